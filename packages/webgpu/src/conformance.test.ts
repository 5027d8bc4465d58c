import { describeBadInputs, describeConformance } from '@fa/conformance';
import { registerWebGpuBackend } from './index.js';

registerWebGpuBackend();

describeConformance({ backend: 'webgpu', randomCases: 4 });
// Fewer random calls than on cpu: the valid ones each compile and run kernels on SwiftShader.
describeBadInputs({ backend: 'webgpu', runs: 100 });
