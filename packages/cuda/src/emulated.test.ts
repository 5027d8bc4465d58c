/**
 * The real kernel sources (csrc/), compiled as C++ against the CPU emulator in csrc/emu, through the shared
 * conformance suite: indexing, masking, tiling, GQA sums, dropout and numerics of the kernels, checked without a
 * GPU. Not covered here: the hardware's own mma.sync/cp.async (emulated from the PTX ISA's tables), memory
 * ordering and races between real threads, and speed. CI builds the emulator (FA_REQUIRE_CUDA_BUILD=1).
 */
import { describeBadInputs, describeConformance, describeStridedInputs } from '@fa/conformance';
import { registerBackend } from '@fa/core';
import * as fa from '@fa/flash-attn';
import { describe, it } from 'vitest';
import { emulatorMissingReason, emulatorPath, forcingDeterministic } from '../test/addon.js';
import { createCudaBackend } from './index.js';

if (emulatorPath) {
  registerBackend('cuda-emu', () => createCudaBackend({ addonPath: emulatorPath as string }));
  // The default backward adds dQ with atomics in the dK/dV kernel; the deterministic one runs the dQ kernel.
  registerBackend('cuda-emu-deterministic', () =>
    forcingDeterministic(createCudaBackend({ addonPath: emulatorPath as string })),
  );
  describeConformance({ facade: fa, backend: 'cuda-emu', randomCases: 8 });
  describeConformance({ facade: fa, backend: 'cuda-emu-deterministic', randomCases: 4 });
  // Random valid calls go through the binding's checks and the emulated kernels; invalid ones must be refused.
  describeBadInputs({ facade: fa, backend: 'cuda-emu', runs: 100 });
  // q, k and v as views with gaps everywhere (NaN-filled): the kernels' strided loads, against dense tensors.
  describeStridedInputs({ facade: fa, backend: 'cuda-emu' });
} else {
  describe.skip(`conformance: cuda kernels on the CPU emulator (skipped: ${emulatorMissingReason})`, () => {
    it('runs the shared suite', () => undefined);
  });
}
