/**
 * The baseline the benchmark compares against: attention as one would first write it in JavaScript, one
 * sequence, head and query row at a time: scores → softmax → weighted sum of values, in plain loops over
 * Float32Arrays. It already skips what packing makes unnecessary (it never looks past a sequence's own keys,
 * nor past the diagonal when causal), so the speed-up over it measures the kernels, not the padding.
 *
 * `q, k, v: (total, H, D)` float32, packed by `cuSeqlens`; returns `out: (total, H, D)`. Forward only.
 */
export function naiveAttentionForward(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  cuSeqlens: Int32Array,
  numHeads: number,
  headDim: number,
  causal: boolean,
  softmaxScale = 1 / Math.sqrt(headDim),
): Float32Array {
  const out = new Float32Array(q.length);
  const stride = numHeads * headDim;
  let maxLen = 0;
  for (let b = 0; b + 1 < cuSeqlens.length; b++)
    maxLen = Math.max(maxLen, (cuSeqlens[b + 1] as number) - (cuSeqlens[b] as number));
  const scores = new Float32Array(maxLen);
  const acc = new Float32Array(headDim);

  for (let b = 0; b + 1 < cuSeqlens.length; b++) {
    const start = cuSeqlens[b] as number;
    const length = (cuSeqlens[b + 1] as number) - start;
    for (let h = 0; h < numHeads; h++) {
      for (let i = 0; i < length; i++) {
        const qBase = (start + i) * stride + h * headDim;
        // Equal lengths for queries and keys, so bottom-right and top-left causal alignment agree: j ≤ i.
        const visible = causal ? i + 1 : length;
        let max = Number.NEGATIVE_INFINITY;
        for (let j = 0; j < visible; j++) {
          const kBase = (start + j) * stride + h * headDim;
          let dot = 0;
          for (let d = 0; d < headDim; d++) dot += (q[qBase + d] as number) * (k[kBase + d] as number);
          const s = dot * softmaxScale;
          scores[j] = s;
          if (s > max) max = s;
        }
        let sum = 0;
        for (let j = 0; j < visible; j++) {
          const p = Math.exp((scores[j] as number) - max);
          scores[j] = p;
          sum += p;
        }
        acc.fill(0);
        for (let j = 0; j < visible; j++) {
          const p = scores[j] as number;
          const vBase = (start + j) * stride + h * headDim;
          for (let d = 0; d < headDim; d++) acc[d] = (acc[d] as number) + p * (v[vBase + d] as number);
        }
        const inv = 1 / sum;
        for (let d = 0; d < headDim; d++) out[qBase + d] = (acc[d] as number) * inv;
      }
    }
  }
  return out;
}
