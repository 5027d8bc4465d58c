import { describeValue, expectationError } from './errors.js';
import { isValidShape } from './tensor.js';

/**
 * Where the elements of a `(tokens, heads, dim)` tensor sit in the storage that holds them, in elements: element
 * `(t, h, d)` is at `offset + t · tokenStride + h · headStride + d`. A packed `qkv: (T, 3, H, D)` is three such
 * views of one buffer (`q` at offset 0, `k` at `H·D`, `v` at `2·H·D`, each with token stride `3·H·D`), so a kernel
 * that reads layouts never needs the parts copied out, as flash-attention's `Flash_fwd_params` row and head strides.
 */
export interface TensorLayout {
  readonly offset: number;
  readonly tokenStride: number;
  readonly headStride: number;
}

/** The layout of a tensor that owns its storage: tokens, then heads, then dim, densely. */
export function contiguousLayout(heads: number, dim: number): TensorLayout {
  return { offset: 0, tokenStride: heads * dim, headStride: dim };
}

/** Whether `layout` is the dense one of a `(tokens, heads, dim)` tensor that owns its storage. */
export function isContiguousLayout(layout: TensorLayout, heads: number, dim: number): boolean {
  if (layout === null || typeof layout !== 'object') return false;
  return layout.offset === 0 && layout.tokenStride === heads * dim && (heads === 1 || layout.headStride === dim);
}

/** The elements past the last one a view of `shape` reads: storage must hold at least this many. */
function layoutExtent(layout: TensorLayout, shape: readonly number[]): number {
  const [tokens = 0, heads = 0, dim = 0] = shape;
  if (tokens === 0 || heads === 0 || dim === 0) return layout.offset;
  return layout.offset + (tokens - 1) * layout.tokenStride + (heads - 1) * layout.headStride + dim;
}

/**
 * Checks the layout of a rank-3 view: non-negative integer offset and strides, rows that do not overlap within a
 * token (`headStride >= dim`, `tokenStride >= heads · headStride` where there is more than one), all of it inside
 * `storageElements`.
 */
export function checkLayout(
  layout: unknown,
  argument: string,
  shape: readonly number[],
  storageElements: number,
): TensorLayout {
  const whole = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (!isValidShape(shape) || shape.length !== 3) {
    throw expectationError('E_SHAPE', 'shape', 'a (tokens, heads, dim) shape', describeValue(shape));
  }
  if (!whole(storageElements)) {
    throw expectationError('E_VALUE', 'storageElements', 'a non-negative integer', describeValue(storageElements));
  }
  const l = layout as Partial<TensorLayout> | null;
  const [tokens = 0, heads = 0, dim = 0] = shape;
  if (l === null || typeof l !== 'object' || !whole(l.offset) || !whole(l.tokenStride) || !whole(l.headStride)) {
    throw expectationError(
      'E_SHAPE',
      argument,
      'a layout { offset, tokenStride, headStride } of non-negative integers',
      describeValue(layout),
    );
  }
  const view = l as TensorLayout;
  const rowsFit = heads <= 1 || view.headStride >= dim;
  const tokensFit = tokens <= 1 || view.tokenStride >= (heads - 1) * view.headStride + dim;
  if (!rowsFit || !tokensFit) {
    throw expectationError(
      'E_SHAPE',
      argument,
      `strides that keep the (${tokens}, ${heads}, ${dim}) elements apart`,
      `tokenStride ${view.tokenStride}, headStride ${view.headStride}`,
    );
  }
  const extent = layoutExtent(view, shape);
  if (extent > storageElements) {
    throw expectationError(
      'E_SHAPE',
      argument,
      `a view inside its ${storageElements}-element storage`,
      `one reaching element ${extent}`,
    );
  }
  return { offset: view.offset, tokenStride: view.tokenStride, headStride: view.headStride };
}
