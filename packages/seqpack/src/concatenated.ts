import { type DType, FaError, type HostTensor } from '@fa/core';
import { type MaskInput, readMask } from './attention-mask.js';
import { checkPadded, gatherSequences, type Unpadded } from './unpad.js';

const ARGUMENT = 'attentionMaskInLength';

/**
 * Packs rows that each hold several documents back to back, like flash-attn's
 * `unpad_input_for_concatenated_sequences`. Row b of `attentionMaskInLength: (batch, seqlen)` lists the lengths
 * of the documents at the start of row b, then zeros: `[2, 3, 0, 0]` is a document of 2 tokens followed by one of
 * 3, and the row's remaining tokens are padding. Every document becomes its own sequence in `cuSeqlens`, so
 * attention never crosses a document boundary; `seqused` has one entry per document.
 *
 * Stricter than flash-attn: a length after a zero, or lengths summing past `seqlen`, are errors (`E_VALUE`)
 * rather than silently misaligned offsets.
 */
export function unpadInputForConcatenatedSequences<D extends DType>(
  hidden: HostTensor<D>,
  attentionMaskInLength: MaskInput,
): Unpadded<D> {
  const [batch, seqlen] = checkPadded(hidden, 'hidden');
  const expected = `document lengths in [0, ${seqlen}]`;
  const mask = readMask(attentionMaskInLength, ARGUMENT, batch, seqlen, expected, (v) => v >= 0 && v <= seqlen);
  const lengths: number[] = [];
  const rowTokens = new Int32Array(batch);
  for (let b = 0; b < batch; b++) {
    let used = 0;
    let ended = false;
    for (let s = 0; s < seqlen; s++) {
      const length = mask[b * seqlen + s] as number;
      if (length === 0) {
        ended = true;
      } else if (ended) {
        throw rowError(b, 'zeros only after the last document', `${ARGUMENT}[${b}][${s}] = ${length} after a zero`);
      } else {
        used += length;
        lengths.push(length);
      }
    }
    if (used > seqlen) {
      throw rowError(b, `at most ${seqlen} tokens of documents`, `documents of ${used} tokens`);
    }
    rowTokens[b] = used;
  }
  let nnz = 0;
  for (const used of rowTokens) nnz += used;
  const indices = new Int32Array(nnz);
  for (let b = 0, k = 0; b < batch; b++) {
    for (let s = 0; s < (rowTokens[b] as number); s++) indices[k++] = b * seqlen + s;
  }
  return gatherSequences(hidden, indices, Int32Array.from(lengths));
}

function rowError(row: number, expected: string, received: string): FaError {
  return new FaError('E_VALUE', `Expected ${expected} in row ${row} of \`${ARGUMENT}\`, received ${received}.`, {
    argument: ARGUMENT,
    expected,
    received,
  });
}
