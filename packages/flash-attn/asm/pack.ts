// Moving rows between the tensors' layouts and the kernels' scratch tiles. Tensors are (tokens, heads, dim):
// one head's rows sit heads·dim floats apart, often a multiple of 4 KiB, which would map a whole tile onto a
// few L1 sets; packed tiles are contiguous, with rows padded to whole vectors and the padding zeroed so that
// it contributes nothing.

/** Copies `rows` rows of `width` floats into rows of `padded` floats, zeroing the padding. */
export function packRows(dst: usize, padded: i32, src: usize, srcRowBytes: usize, rows: i32, width: i32): void {
  const dstRowBytes = <usize>padded << 2;
  let out = dst;
  let row = src;
  for (let r = 0; r < rows; r++) {
    let d = 0;
    for (; d + 4 <= width; d += 4) v128.store(out + (<usize>d << 2), v128.load(row + (<usize>d << 2)));
    for (; d < width; d++) store<f32>(out + (<usize>d << 2), load<f32>(row + (<usize>d << 2)));
    for (; d < padded; d++) store<f32>(out + (<usize>d << 2), 0);
    out += dstRowBytes;
    row += srcRowBytes;
  }
}

/**
 * Copies `cols` rows of `width` floats into a transposed tile (one row per feature, `dstRowBytes` apart),
 * multiplying by `factor` and zeroing columns [cols, colsPad).
 */
export function packTransposed(
  dst: usize,
  dstRowBytes: usize,
  src: usize,
  srcRowBytes: usize,
  cols: i32,
  colsPad: i32,
  width: i32,
  factor: f32,
): void {
  let row = src;
  for (let j = 0; j < cols; j++) {
    let out = dst + (<usize>j << 2);
    for (let d = 0; d < width; d++) {
      store<f32>(out, load<f32>(row + (<usize>d << 2)) * factor);
      out += dstRowBytes;
    }
    row += srcRowBytes;
  }
  for (let j = cols; j < colsPad; j++) {
    let out = dst + (<usize>j << 2);
    for (let d = 0; d < width; d++) {
      store<f32>(out, 0);
      out += dstRowBytes;
    }
  }
}

/** Copies `rows` rows of `width` floats from padded scratch rows into an exact-width tensor. */
export function writeRows(dst: usize, dstRowBytes: usize, src: usize, srcRowBytes: usize, rows: i32, width: i32): void {
  let out = dst;
  let row = src;
  for (let r = 0; r < rows; r++) {
    let d = 0;
    for (; d + 4 <= width; d += 4) v128.store(out + (<usize>d << 2), v128.load(row + (<usize>d << 2)));
    for (; d < width; d++) store<f32>(out + (<usize>d << 2), load<f32>(row + (<usize>d << 2)));
    out += dstRowBytes;
    row += srcRowBytes;
  }
}

export function zeroRows(dst: usize, dstRowBytes: usize, rows: i32, width: i32): void {
  let out = dst;
  for (let r = 0; r < rows; r++) {
    memory.fill(out, 0, <usize>width << 2);
    out += dstRowBytes;
  }
}
