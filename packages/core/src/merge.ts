import { expectationError } from './errors.js';
import { checkHostTensor, formatShape, type HostTensor } from './tensor.js';

/**
 * Attention over two disjoint key sets, merged exactly into attention over their union: the building block of
 * split-KV decoding and ring (context-parallel) attention.
 *
 * With lse = log Σ exp(s), the union's lse is log(exp(lse1) + exp(lse2)) and its output the lse-weighted mix.
 * An lse of +inf is this library's marker of a row that saw no key; such a state contributes nothing.
 * `out: (total_q, nheads, head_dim_v)` f32, `lse: (nheads, total_q)` f32.
 */
export function mergeAttnStates(
  out1: HostTensor<'f32'>,
  lse1: HostTensor<'f32'>,
  out2: HostTensor<'f32'>,
  lse2: HostTensor<'f32'>,
): { out: HostTensor<'f32'>; lse: HostTensor<'f32'> } {
  checkHostTensor(out1, 'out1');
  checkHostTensor(lse1, 'lse1');
  checkHostTensor(out2, 'out2');
  checkHostTensor(lse2, 'lse2');
  if (out1.dtype !== 'f32' || out1.shape.length !== 3) {
    throw expectationError(
      'E_SHAPE',
      'out1',
      'an f32 tensor (total_q, nheads, head_dim_v)',
      `${out1.dtype} ${formatShape(out1.shape)}`,
    );
  }
  const [totalQ, numHeads, headDimV] = out1.shape as [number, number, number];
  const sameShape = (a: readonly number[], b: readonly number[]) =>
    a.length === b.length && a.every((d, i) => d === b[i]);
  if (out2.dtype !== 'f32' || !sameShape(out2.shape, out1.shape)) {
    throw expectationError(
      'E_SHAPE',
      'out2',
      `an f32 tensor of shape ${formatShape(out1.shape)}`,
      `${out2.dtype} ${formatShape(out2.shape)}`,
    );
  }
  for (const [lse, name] of [
    [lse1, 'lse1'],
    [lse2, 'lse2'],
  ] as const) {
    if (lse.dtype !== 'f32' || !sameShape(lse.shape, [numHeads, totalQ])) {
      throw expectationError(
        'E_SHAPE',
        name,
        `an f32 tensor of shape (${numHeads}, ${totalQ})`,
        `${lse.dtype} ${formatShape(lse.shape)}`,
      );
    }
  }

  const out = new Float32Array(out1.data.length);
  const lse = new Float32Array(lse1.data.length);
  for (let h = 0; h < numHeads; h++) {
    for (let t = 0; t < totalQ; t++) {
      const l1 = lse1.data[h * totalQ + t] as number;
      const l2 = lse2.data[h * totalQ + t] as number;
      const empty1 = l1 === Number.POSITIVE_INFINITY;
      const empty2 = l2 === Number.POSITIVE_INFINITY;
      const base = (t * numHeads + h) * headDimV;
      if (empty1 && empty2) {
        lse[h * totalQ + t] = Number.POSITIVE_INFINITY;
        continue;
      }
      const m = empty1 ? l2 : empty2 ? l1 : Math.max(l1, l2);
      const w1 = empty1 ? 0 : Math.exp(l1 - m);
      const w2 = empty2 ? 0 : Math.exp(l2 - m);
      const total = w1 + w2;
      lse[h * totalQ + t] = m + Math.log(total);
      for (let d = 0; d < headDimV; d++) {
        out[base + d] = (w1 * (out1.data[base + d] as number) + w2 * (out2.data[base + d] as number)) / total;
      }
    }
  }
  return {
    out: { data: out, shape: [...out1.shape], dtype: 'f32' },
    lse: { data: lse, shape: [numHeads, totalQ], dtype: 'f32' },
  };
}
