/**
 * The real kernel sources (csrc/), compiled as C++ against the CPU emulator in csrc/emu, through the shared
 * conformance suite: indexing, masking, tiling, GQA sums, dropout and numerics of the kernels, checked without a
 * GPU. Not covered here: the hardware's own mma.sync/cp.async (emulated from the PTX ISA's tables), memory
 * ordering and races between real threads, and speed. CI builds the emulator (FA_REQUIRE_CUDA_BUILD=1).
 */
import { describeBadInputs, describeConformance, describeStridedInputs } from '@fa/conformance';
import { registerBackend } from '@fa/core';
import * as fa from '@fa/flash-attn';
import { fixedCases } from '@fa/testkit';
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

  // The other forward designs a GPU run times against the default (options.kernels), forward only: the baseline
  // kernel, and the fa2 kernel with each of its changes switched off at once.
  const f32Skips = Object.fromEntries(
    fixedCases()
      .filter((c) => c.dtype === 'f32')
      .map((c) => [c.name, 'f32 runs the baseline forward under every kernels option (the default run covers it)']),
  );
  const variants = {
    'cuda-emu-forward-baseline': { forward: 'baseline' },
    'cuda-emu-forward-fa2-unoptimised': { maskEveryTile: true, specialise: false, conditionalRescale: false },
  } as const;
  for (const [name, kernels] of Object.entries(variants)) {
    registerBackend(name, () => createCudaBackend({ addonPath: emulatorPath as string, kernels }));
    describeConformance({ facade: fa, backend: name, randomCases: 2, backward: false, skip: f32Skips });
  }
} else {
  describe.skip(`conformance: cuda kernels on the CPU emulator (skipped: ${emulatorMissingReason})`, () => {
    it('runs the shared suite', () => undefined);
  });
}
