import { registerBackend } from '@fa/core';
import { createCpuBackend } from '@fa/flash-attn/cpu';
import { describeBadInputs } from '../bad-input/suite.js';
import { describeDeterminism } from '../determinism.js';
import { describeConformance } from '../suite.js';

// The cpu backend ships inside @fa/flash-attn; its conformance run lives here so that the façade need not
// depend on the suite that depends on it.
describeConformance({ backend: 'cpu', randomCases: 8 });
describeBadInputs({ backend: 'cpu' });

// The cpu backend promises the same bits whatever its thread count.
registerBackend('cpu-1-thread', () => createCpuBackend({ threads: 1 }), { priority: -10 });
registerBackend('cpu-4-threads', () => createCpuBackend({ threads: 4 }), { priority: -10 });
describeDeterminism({ backend: 'cpu', sameBitsAs: ['cpu-1-thread', 'cpu-4-threads'] });
