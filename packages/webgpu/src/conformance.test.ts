import { describeBadInputs, describeConformance, describeStridedInputs } from '@fa/conformance';
import * as fa from '@fa/flash-attn';
import { registerWebGpuBackend } from './index.js';

registerWebGpuBackend();

describeConformance({ facade: fa, backend: 'webgpu', randomCases: 4 });
// Fewer random calls than on cpu: the valid ones each compile and run kernels on SwiftShader.
describeBadInputs({ facade: fa, backend: 'webgpu', runs: 100 });
describeStridedInputs({ facade: fa, backend: 'webgpu' });
