import { describeBadInputs, describeConformance, describeStridedInputs } from '@fa/conformance';
import { registerBackend } from '@fa/core';
import * as fa from '@fa/flash-attn';
import { describe, expect, it } from 'vitest';
import { forcingDeterministic } from '../test/addon.js';
import { createCudaBackend, cudaAvailability, registerCudaBackend } from './index.js';

/**
 * The shared suite, on the GPU. Without one (or without the built addon) it skips with the reason written in the
 * test name; with FA_REQUIRE_CUDA=1 (set on GPU machines) an unavailable backend fails instead.
 */
const availability = cudaAvailability();

if (availability.available) {
  registerCudaBackend();
  registerBackend('cuda-deterministic', () => forcingDeterministic(createCudaBackend()));
  describeConformance({ facade: fa, backend: 'cuda', randomCases: 8 });
  describeConformance({ facade: fa, backend: 'cuda-deterministic', randomCases: 4 });
  describeBadInputs({ facade: fa, backend: 'cuda' });
  describeStridedInputs({ facade: fa, backend: 'cuda' });
} else if (process.env.FA_REQUIRE_CUDA === '1') {
  describe('conformance: cuda', () => {
    it('the cuda backend is available (FA_REQUIRE_CUDA=1)', () => {
      expect.fail(`${availability.reason}: ${availability.message}`);
    });
  });
} else {
  describe.skip(`conformance: cuda (skipped: ${availability.reason}: ${availability.message.split('\n')[0]})`, () => {
    it('runs the shared suite', () => undefined);
  });
}
