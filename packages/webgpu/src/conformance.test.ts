import { describeConformance } from '@fa/conformance';
import { registerWebGpuBackend } from './index.js';

registerWebGpuBackend();

describeConformance({ backend: 'webgpu', randomCases: 4 });
