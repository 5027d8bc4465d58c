/**
 * The job header the kernels read (asm/job.ts): one 4-byte slot per field, in this order. The kernel module
 * reports its header size, and `writeJob` refuses to run against a module whose layout differs.
 */
export const JOB_FIELDS = [
  'kind',
  'counter',
  'numItems',
  'items',
  'batch',
  'totalQ',
  'totalK',
  'numHeads',
  'numHeadsK',
  'headDim',
  'headDimV',
  'cuSeqlensQ',
  'cuSeqlensK',
  'scale',
  'windowLeft',
  'windowRight',
  'softcap',
  'alibiSlopes',
  'dropout',
  'dropoutThreshold',
  'seedLo',
  'seedHi',
  'keepScale',
  'q',
  'k',
  'v',
  'out',
  'lse',
  'dout',
  'dq',
  'dk',
  'dv',
  'gradHeadsK',
  'scratch',
  'scratchStride',
  'blockQ',
  'blockK',
  'maxSeqlenQ',
] as const;

export type JobField = (typeof JOB_FIELDS)[number];
export type JobHeader = Record<JobField, number>;

export const JOB_HEADER_BYTES = JOB_FIELDS.length * 4;
export const KIND_FORWARD = 0;
export const KIND_BACKWARD = 1;

const FLOAT_FIELDS: ReadonlySet<JobField> = new Set(['scale', 'softcap', 'keepScale']);

/** Writes the header at byte offset `ptr`. Unsigned fields (pointers, seeds) are stored modulo 2^32. */
export function writeJob(buffer: ArrayBufferLike, ptr: number, header: JobHeader): void {
  const ints = new Int32Array(buffer, ptr, JOB_FIELDS.length);
  const floats = new Float32Array(buffer, ptr, JOB_FIELDS.length);
  JOB_FIELDS.forEach((field, slot) => {
    if (FLOAT_FIELDS.has(field)) floats[slot] = header[field];
    else ints[slot] = header[field] | 0;
  });
}
