import { FaError } from '@fa/core';

/**
 * Tile shapes and shared-memory staging for each kernel, chosen from the device's limits and the head dims only.
 * Sequence lengths never enter here: they are data, so a new batch never compiles a new pipeline.
 *
 * Every kernel computes a `bm × bn` block of scores with `wg` invocations as register micro-tiles: the
 * invocations form `bm / rm` row groups of `tpr` lanes; lane `lane` of row group `rg` owns the `rm` query rows
 * `rg, rg + bm / rm, …` and `ns = bn / tpr` key columns in groups of four consecutive keys (one Philox call
 * serves four dropout decisions). Each value read from workgroup memory then feeds `rm` or `ns` multiply-adds
 * instead of one. The dK/dV accumulation owns `km` keys per invocation the same way. Head dims are padded to
 * multiples of 32 (`dp`, `dvp`) for the kernels' loop bounds; loads past the real head dim read zeros. Matrix
 * products stream their contraction dimension through workgroup memory in chunks (`dc` over the head dim, `vc`
 * over the value head dim); a `resident` operand is loaded whole once instead of chunk by chunk.
 */
export type KernelKind = 'forward' | 'dq' | 'dkdv';

export interface TileConfig {
  readonly kind: KernelKind;
  /** Invocations per workgroup. */
  readonly wg: number;
  /** Query rows per tile. */
  readonly bm: number;
  /** Keys per tile. */
  readonly bn: number;
  /** Head dim and value head dim rounded up to a multiple of 32. */
  readonly dp: number;
  readonly dvp: number;
  /** Chunk of the head dim staged at once; divides `dp`. */
  readonly dc: number;
  /** Chunk of the value head dim staged at once; divides `dvp`. */
  readonly vc: number;
  /**
   * forward: the query tile stays in workgroup memory for the whole key loop. dq: the query and dO tiles do.
   * dkdv: the key and value tiles do.
   */
  readonly resident: boolean;
  /** Query rows per invocation in the score phase. */
  readonly rm: number;
  /** Keys per invocation in the dK/dV accumulation (1 for the other kernels). */
  readonly km: number;
  /**
   * forward: row maxima and sums are reduced across a row group's lanes with subgroup shuffles instead of
   * through workgroup memory (which saves the `part` array and two barriers per key tile).
   */
  readonly subgroupRows: boolean;
  /**
   * The row and key/value tiles (and the forward's probabilities) are arrays of vec4 in workgroup memory, so the
   * score products read four head-dim columns per load (kernels/common.ts scoreProduct) and the forward's P·V
   * four probabilities per load.
   */
  readonly vec4: boolean;
}

/** The limits tiling must respect. */
export interface TilingLimits {
  readonly workgroupStorageBytes: number;
  readonly invocations: number;
  /**
   * Narrowest head-dim chunk a tile shape may stream with before a smaller shape is preferred (default 32; the
   * smallest shape always accepts 16). Tests lower it to run the largest shapes within a CPU adapter's limits.
   */
  readonly minChunk?: number;
  /**
   * Lanes a subgroup is guaranteed to hold in the linear layout (gpu/subgroups.ts), or 0 without subgroups. A
   * shape whose row groups fit in it reduces rows with shuffles.
   */
  readonly subgroupWidth?: number;
  /**
   * Candidate tile shapes per kernel, largest first, in place of the built-in ones (`TILE_SHAPES`): for tuning
   * on a new device. Each must pass `tileShapeProblem`.
   */
  readonly shapes?: Partial<Record<KernelKind, readonly TileShape[]>>;
  /** vec4 tiles in every kernel (`TileConfig.vec4`); off by default until measured on GPUs. */
  readonly vec4?: boolean;
}

/** WebGPU's guaranteed minimums: a tiling that fits these runs on every device. */
export const BASELINE_LIMITS: TilingLimits = { workgroupStorageBytes: 16384, invocations: 256 };

/** A kernel's invocation layout; chooseTileConfig then picks residency and chunk widths for it. */
export interface TileShape {
  readonly wg: number;
  readonly bm: number;
  readonly bn: number;
  readonly rm: number;
  readonly km: number;
}

/**
 * Shapes per kernel, largest first. Micro-tiles of 4 rows × 4 keys (64×64 scores per 256 invocations),
 * 2 × 4 (32×32 per 128) and 1 × 4 (16×16 per 64); every shape keeps a multiple of four key columns per
 * invocation and at most 16 lanes per row group. dK/dV holds two score-sized tiles (P and dS), so its largest
 * shape takes 32 query rows at a time against 64 keys.
 */
export const TILE_SHAPES: Readonly<Record<KernelKind, readonly TileShape[]>> = deepFreeze({
  forward: [
    { wg: 256, bm: 64, bn: 64, rm: 4, km: 1 },
    { wg: 128, bm: 32, bn: 32, rm: 2, km: 1 },
    { wg: 64, bm: 16, bn: 16, rm: 1, km: 1 },
  ],
  dq: [
    { wg: 256, bm: 64, bn: 64, rm: 4, km: 1 },
    { wg: 128, bm: 32, bn: 32, rm: 2, km: 1 },
    { wg: 64, bm: 16, bn: 16, rm: 1, km: 1 },
  ],
  dkdv: [
    { wg: 256, bm: 32, bn: 64, rm: 2, km: 4 },
    { wg: 128, bm: 32, bn: 32, rm: 2, km: 2 },
    { wg: 64, bm: 16, bn: 16, rm: 1, km: 1 },
  ],
});

export const HEAD_DIM_ALIGN = 32;

export function padHeadDim(d: number): number {
  return Math.max(HEAD_DIM_ALIGN, Math.ceil(d / HEAD_DIM_ALIGN) * HEAD_DIM_ALIGN);
}

/** The shapes are exported: frozen, so that no importer can change another's tiling. */
function deepFreeze<T extends Record<string, readonly object[]>>(shapes: T): T {
  for (const list of Object.values(shapes)) {
    for (const shape of list) Object.freeze(shape);
    Object.freeze(list);
  }
  return Object.freeze(shapes);
}

const isPowerOfTwo = (n: number) => Number.isSafeInteger(n) && n >= 1 && (n & (n - 1)) === 0;

/**
 * Why the kernels cannot run `shape` for `kind`, or null when they can: the layout rules the WGSL relies on
 * (lanes per row group a power of two up to 16, so that they divide every 16-wide chunk and fit one butterfly;
 * four consecutive keys per Philox call; whole key groups in dK/dV).
 */
export function tileShapeProblem(kind: KernelKind, shape: TileShape): string | null {
  const { wg, bm, bn, rm, km } = shape;
  for (const [name, value] of Object.entries({ wg, bm, bn, rm, km })) {
    if (!(Number.isSafeInteger(value) && value >= 1)) return `${name} must be a positive integer`;
  }
  if (bm % rm !== 0) return 'bm must be a multiple of rm';
  const tpr = rowThreads(shape);
  if (!isPowerOfTwo(tpr) || tpr > 16) return `wg · rm / bm (lanes per row group, ${tpr}) must be 1, 2, 4, 8 or 16`;
  if (bn % (4 * tpr) !== 0) return 'bn must be a multiple of 4 · lanes per row group';
  if (kind !== 'dkdv') return km === 1 ? null : 'km must be 1 outside dkdv';
  if (bn % km !== 0) return 'bn must be a multiple of km';
  const tpc = keyThreads(shape);
  if (!isPowerOfTwo(tpc) || tpc > 16) return `wg · km / bn (lanes per key group, ${tpc}) must be 1, 2, 4, 8 or 16`;
  return null;
}

/** Lanes per row group in the score phase (invocations sharing the same query rows). */
export function rowThreads(c: Pick<TileConfig, 'wg' | 'bm' | 'rm'>): number {
  return (c.wg * c.rm) / c.bm;
}

/** Lanes per key group in the dK/dV accumulation phase. */
export function keyThreads(c: Pick<TileConfig, 'wg' | 'bn' | 'km'>): number {
  return (c.wg * c.km) / c.bn;
}

/** One `var<workgroup>` array: `rows × stride` elements, f32 or (with `vec4`) vec4<f32>. */
export interface SharedArray {
  readonly rows: number;
  readonly stride: number;
  readonly vec4?: boolean;
}

/**
 * The workgroup arrays each kernel declares, by name. Tiles get one float of padding per row so that the rows
 * of a tile, read down a column by neighbouring invocations, fall in different memory banks.
 */
export function sharedLayout(c: TileConfig): Record<string, SharedArray> {
  const { bm, bn, dp, dvp, dc, vc, resident } = c;
  // A tile of `width` columns per row: floats, or with vec4 tiles vec4s (strides then count vec4s). Either way
  // padded by one element so that the rows consecutive lanes read start in different banks.
  const tile = (rows: number, width: number): SharedArray =>
    c.vec4 ? { rows, stride: width / 4 + 1, vec4: true } : { rows, stride: width + 1 };
  const stage = Math.max(dc, vc);
  const scores = { rows: bm, stride: bn + 1 };
  switch (c.kind) {
    case 'forward':
      return {
        q_tile: tile(bm, resident ? dp : dc),
        kv_tile: tile(bn, stage),
        probs: tile(bm, bn),
        // Per-row partial maxima, then partial sums, of each lane (subgroup shuffles need none).
        ...(c.subgroupRows ? {} : { part: { rows: bm, stride: rowThreads(c) } }),
      };
    case 'dq':
      return resident
        ? { q_tile: tile(bm, dp), do_tile: tile(bm, dvp), kv_tile: tile(bn, stage), dsc: scores }
        : { row_stage: tile(bm, stage), kv_tile: tile(bn, stage), dsc: scores };
    case 'dkdv':
      return resident
        ? { k_tile: tile(bn, dp), v_tile: tile(bn, dvp), row_stage: tile(bm, stage), probs: scores, dsc: scores }
        : { kv_tile: tile(bn, stage), row_stage: tile(bm, stage), probs: scores, dsc: scores };
  }
}

/** Floats of workgroup memory a configuration declares. */
export function sharedFloats(c: TileConfig): number {
  return Object.values(sharedLayout(c)).reduce((sum, a) => sum + a.rows * a.stride * (a.vec4 ? 4 : 1), 0);
}

/** WGSL declarations of `sharedLayout(c)`, with a stride constant `<NAME>_S` per array. */
export function sharedWgsl(c: TileConfig): string {
  return Object.entries(sharedLayout(c))
    .map(
      ([name, a]) =>
        `const ${name.toUpperCase()}_S: u32 = ${a.stride}u;\nvar<workgroup> ${name}: array<${a.vec4 ? 'vec4<f32>' : 'f32'}, ${a.rows * a.stride}>;`,
    )
    .join('\n');
}

function chunkSizes(padded: number): number[] {
  const sizes: number[] = [];
  for (let size = padded; size >= 16; size--) {
    if (padded % size === 0 && size % 16 === 0) sizes.push(size);
  }
  return sizes;
}

/**
 * The configuration of one kernel for head dims `headDim`, `headDimV` on a device with `limits`: the largest
 * tile shape that fits with chunks of at least 32 (narrower chunks mean a barrier per 16 multiply-adds, which
 * costs more than the bigger tile saves), then resident operands, then the largest chunks.
 */
export function chooseTileConfig(
  kind: KernelKind,
  headDim: number,
  headDimV: number,
  limits: TilingLimits,
): TileConfig {
  const dp = padHeadDim(headDim);
  const dvp = padHeadDim(headDimV);
  const shapes = limits.shapes?.[kind] ?? TILE_SHAPES[kind];
  for (const shape of shapes) {
    if (shape.wg > limits.invocations || tileShapeProblem(kind, shape) !== null) continue;
    const smallest = shape === shapes[shapes.length - 1] ? 16 : (limits.minChunk ?? 32);
    const subgroupRows = kind === 'forward' && rowThreads(shape) <= (limits.subgroupWidth ?? 0);
    const vec4 = limits.vec4 === true;
    for (const resident of [true, false]) {
      for (const dc of chunkSizes(dp).filter((size) => size >= smallest)) {
        for (const vc of chunkSizes(dvp).filter((size) => size >= smallest)) {
          const config: TileConfig = { kind, ...shape, dp, dvp, dc, vc, resident, subgroupRows, vec4 };
          if (sharedFloats(config) * 4 <= limits.workgroupStorageBytes) return config;
        }
      }
    }
  }
  // The smallest built-in shape with 16-wide chunks needs under 8 KiB, so this only fires for absurd limits or
  // for candidate shapes that are all too big.
  throw new FaError(
    'E_LIMIT',
    `No ${kind} tile shape fits ${limits.workgroupStorageBytes} bytes of workgroup storage and ${limits.invocations} invocations`,
    { argument: 'tilingLimits' },
  );
}

/** A stable string naming everything a configuration compiles into code. */
export function configKey(c: TileConfig): string {
  return `${c.kind}:wg${c.wg}:m${c.bm}:n${c.bn}:r${c.rm}:k${c.km}:d${c.dp}:dv${c.dvp}:c${c.dc}:vc${c.vc}:${c.resident ? 'res' : 'stream'}${c.subgroupRows ? ':sg' : ''}${c.vec4 ? ':v4' : ''}`;
}
