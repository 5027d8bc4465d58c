import { type DType, FaError, formatShape, type HostTensor, maxSeqlenOf } from '@fa/core';
import { type MaskInput, readMask } from './attention-mask.js';
import { cuSeqlensFromLengths } from './cu-seqlens.js';
import { gatherRows, scatterRows } from './index-first-axis.js';
import { checkHostTensor, checkIndices, checkInteger, INT32_MAX } from './validate.js';

/** A padded batch turned into the packed layout that varlen attention takes. */
export interface Unpadded<D extends DType = DType> {
  /** `(nnz, ...rest)`: the kept tokens, sequence after sequence. */
  readonly data: HostTensor<D>;
  /** `Int32Array(nnz)`: where each kept token was in the flattened `(batch * seqlen)` padded layout. */
  readonly indices: Int32Array;
  /** `Int32Array(sequences + 1)`: offsets of each sequence in `data`. */
  readonly cuSeqlens: Int32Array;
  readonly maxSeqlen: number;
  /** `Int32Array(sequences)`: tokens of each sequence that attention uses (all of them here), for `seqused_k`. */
  readonly seqused: Int32Array;
}

/** Checks `hidden: (batch, seqlen, ...rest)` and returns its batch and seqlen. */
export function checkPadded(hidden: unknown, argument: string): [batch: number, seqlen: number] {
  const tensor = checkHostTensor(hidden, argument, '(batch, seqlen, ...)', 2);
  const [batch, seqlen] = tensor.shape as [number, number];
  // Token indices are Int32Array, like cu_seqlens.
  if (batch * seqlen > INT32_MAX) {
    throw new FaError(
      'E_SHAPE',
      `Expected at most 2^31 - 1 tokens (batch × seqlen) for \`${argument}\`, received shape ${formatShape(tensor.shape)}.`,
      { argument, expected: 'batch × seqlen <= 2^31 - 1', received: formatShape(tensor.shape) },
    );
  }
  return [batch, seqlen];
}

/** Gathers the tokens at `indices` out of `hidden: (batch, seqlen, ...rest)`, one sequence per entry of `lengths`. */
export function gatherSequences<D extends DType>(
  hidden: HostTensor<D>,
  indices: Int32Array,
  lengths: Int32Array,
): Unpadded<D> {
  const [batch, seqlen, ...rest] = hidden.shape as [number, number, ...number[]];
  const flat: HostTensor<D> = { data: hidden.data, shape: [batch * seqlen, ...rest], dtype: hidden.dtype };
  const cuSeqlens = cuSeqlensFromLengths(lengths);
  return { data: gatherRows(flat, indices), indices, cuSeqlens, maxSeqlen: maxSeqlenOf(cuSeqlens), seqused: lengths };
}

/**
 * Packs a padded batch: keeps the tokens whose mask entry is 1 (or `true`), row after row, like flash-attn's
 * `bert_padding.unpad_input`. The mask may have holes; each row becomes one sequence of its kept tokens.
 */
export function unpadInput<D extends DType>(hidden: HostTensor<D>, attentionMask: MaskInput): Unpadded<D> {
  const [batch, seqlen] = checkPadded(hidden, 'hidden');
  const expected = 'entries 0 or 1 (or booleans)';
  const mask = readMask(attentionMask, 'attentionMask', batch, seqlen, expected, (v) => v === 0 || v === 1);
  const lengths = new Int32Array(batch);
  let nnz = 0;
  for (let i = 0; i < mask.length; i++) nnz += mask[i] as number;
  const indices = new Int32Array(nnz);
  for (let b = 0, k = 0; b < batch; b++) {
    const rowStart = k;
    for (let i = b * seqlen; i < (b + 1) * seqlen; i++) if (mask[i] !== 0) indices[k++] = i;
    lengths[b] = k - rowStart;
  }
  return gatherSequences(hidden, indices, lengths);
}

/**
 * The inverse of `unpadInput`: scatters `data: (nnz, ...rest)` back to `(batch, seqlen, ...rest)` at `indices`,
 * with zeros at padded positions. `indices` must be distinct and in `[0, batch * seqlen)`.
 */
export function padInput<D extends DType>(
  data: HostTensor<D>,
  indices: Int32Array | ArrayLike<number>,
  batch: number,
  seqlen: number,
): HostTensor<D> {
  // Padded positions are addressed by int32 indices, so the padded grid cannot hold more than 2^31 - 1 of them.
  checkInteger(batch, 'batch', 0, INT32_MAX);
  checkInteger(seqlen, 'seqlen', 0, Math.floor(INT32_MAX / Math.max(batch, 1)));
  const tensor = checkHostTensor(data, 'data', '(nnz, ...)', 1);
  const rows = checkIndices(indices, 'indices', batch * seqlen, true);
  if (rows.length !== tensor.shape[0]) {
    throw new FaError(
      'E_SHAPE',
      `Expected one index per row of \`data\` (${tensor.shape[0]}) for \`indices\`, received ${rows.length}.`,
      { argument: 'indices', expected: `length ${tensor.shape[0]}`, received: `length ${rows.length}` },
    );
  }
  const padded = scatterRows(data, rows, batch * seqlen);
  return { data: padded.data, shape: [batch, seqlen, ...data.shape.slice(1)], dtype: data.dtype };
}
