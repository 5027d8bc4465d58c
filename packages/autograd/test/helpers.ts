import { numel } from '@fa/core';
import { Rng } from '../src/random.js';
import { parameter, type Variable } from '../src/variable.js';

/** A float64 leaf that requires grad, drawn from N(0, std²) with a seeded generator. */
export function randomParam(rng: Rng, shape: readonly number[], std = 1): Variable {
  const data = new Float64Array(numel(shape));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal() * std;
  return parameter(data, shape);
}

export { Rng };
