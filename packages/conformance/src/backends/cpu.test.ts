import { describeBadInputs } from '../bad-input/suite.js';
import { describeConformance } from '../suite.js';

// The cpu backend ships inside @fa/flash-attn; its conformance run lives here so that the façade need not
// depend on the suite that depends on it.
describeConformance({ backend: 'cpu', randomCases: 8 });
describeBadInputs({ backend: 'cpu' });
