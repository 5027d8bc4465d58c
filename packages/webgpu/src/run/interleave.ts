import {
  bytesPerElement,
  checkDType,
  type DType,
  describeValue,
  expectationError,
  type InterleavePart,
} from '@fa/core';
import { TENSOR_USAGE, Usage } from '../gpu/buffers.js';
import {
  INTERLEAVE_SOURCES,
  INTERLEAVE_WORKGROUP,
  interleaveBindings,
  interleaveWgsl,
  packInterleaveParams,
} from '../kernels/interleave.js';
import { checked, type GpuContext, grid } from './context.js';

/** One part of an interleave: a live buffer of this device and the element its rows start at. */
export interface InterleaveSource {
  readonly buffer: GPUBuffer;
  readonly offset: number;
}

function checkCount(value: unknown, argument: string): void {
  if (!(typeof value === 'number' && Number.isSafeInteger(value) && value >= 0)) {
    throw expectationError('E_VALUE', argument, 'a non-negative integer', describeValue(value));
  }
}

/**
 * The arguments of `interleave` that need no device, checked as core's `interleaveHost` checks them and with its
 * errors: a non-empty array of parts (E_VALUE), counts (E_VALUE), the dtype (E_DTYPE), each part's offset (E_VALUE).
 */
export function checkInterleaveArguments(
  parts: readonly InterleavePart<unknown>[],
  rows: number,
  rowElements: number,
  dtype: DType,
): void {
  if (!Array.isArray(parts) || parts.length === 0) {
    throw expectationError('E_VALUE', 'parts', 'a non-empty array of { handle, offset }', describeValue(parts));
  }
  checkCount(rows, 'rows');
  checkCount(rowElements, 'rowElements');
  checkDType(dtype, 'dtype');
  parts.forEach((part, p) => {
    const offset = (part as { offset?: unknown } | null)?.offset;
    if (!(typeof offset === 'number' && Number.isSafeInteger(offset) && offset >= 0)) {
      throw expectationError(
        'E_VALUE',
        `parts[${p}]`,
        '{ handle, offset: a non-negative integer }',
        describeValue(part),
      );
    }
  });
}

/**
 * The backend contract's `interleave` on the device: a new dense buffer of `rows × parts.length × rowElements`
 * elements of `dtype` whose row r holds row r of every part in order. Parts may be views of one buffer; each
 * distinct buffer is bound once, and parts spread over more than `INTERLEAVE_SOURCES` distinct buffers take one
 * dispatch per group of them (the callers pass at most three). Arguments as `checkInterleaveArguments` checked
 * them; each part must lie inside its buffer (E_SHAPE). A buffer holds whole 32-bit words, so a part of a 16-bit
 * tensor with an odd number of elements may reach the padding half of its last word (read as zero).
 */
export async function runInterleave(
  ctx: GpuContext,
  parts: readonly InterleaveSource[],
  rows: number,
  rowElements: number,
  dtype: DType,
): Promise<GPUBuffer> {
  const width = bytesPerElement(dtype);
  const elements = rows * parts.length * rowElements;
  const outBytes = elements * width;
  ctx.buffers.checkBindable(outBytes, 'out');
  const sources = new Map<GPUBuffer, number>();
  const table = new Uint32Array(2 * parts.length);
  parts.forEach(({ buffer, offset }, p) => {
    const argument = `parts[${p}]`;
    let source = sources.get(buffer);
    if (source === undefined) {
      ctx.buffers.checkBindable(buffer.size, argument);
      source = sources.size;
      sources.set(buffer, source);
    }
    const available = Math.floor(buffer.size / width);
    if (offset + rows * rowElements > available) {
      throw expectationError(
        'E_SHAPE',
        argument,
        `${rows} rows of ${rowElements} elements from element ${offset}`,
        `a buffer of ${available} elements`,
      );
    }
    table[2 * p] = source;
    table[2 * p + 1] = offset;
  });
  ctx.buffers.checkBindable(table.byteLength, 'parts');

  const words = Math.ceil(outBytes / 4);
  const bits = width === 4 ? 32 : 16;
  const kernel =
    words === 0
      ? undefined
      : await ctx.pipelines.get({
          key: `interleave:${bits}`,
          bindings: interleaveBindings(),
          code: () => interleaveWgsl(bits),
        });
  const buffers = [...sources.keys()];
  const submit = () => {
    const out = ctx.buffers.create(outBytes, TENSOR_USAGE, 'fa-interleave');
    if (!kernel) return out;
    const temporaries: GPUBuffer[] = [];
    try {
      const [gridX, gridY] = grid(Math.ceil(words / INTERLEAVE_WORKGROUP), ctx.maxWorkgroupsPerDimension);
      const partTable = ctx.buffers.createWithData(table, Usage.STORAGE, 'fa-interleave-parts');
      temporaries.push(partTable);
      const encoder = ctx.device.createCommandEncoder({ label: 'fa-interleave' });
      const timestampWrites = ctx.timestampWrites?.('fa-interleave');
      const pass = encoder.beginComputePass(
        timestampWrites ? { label: 'fa-interleave', timestampWrites } : { label: 'fa-interleave' },
      );
      pass.setPipeline(kernel.pipeline);
      // One dispatch per group of sources; each leaves the others' elements as they are.
      for (let first = 0; first < buffers.length; first += INTERLEAVE_SOURCES) {
        const values = { parts: parts.length, row_elements: rowElements, elements, words, grid_x: gridX };
        const params = packInterleaveParams({ ...values, first_source: first });
        const uniform = ctx.buffers.createWithData(params, Usage.UNIFORM, 'fa-interleave-params');
        temporaries.push(uniform);
        const bound = Array.from({ length: INTERLEAVE_SOURCES }, (_, s) => buffers[first + s] ?? buffers[first]);
        const entries = [uniform, partTable, ...bound, out].map((buffer, binding) => ({
          binding,
          resource: { buffer: buffer as GPUBuffer },
        }));
        pass.setBindGroup(0, ctx.device.createBindGroup({ label: 'fa-interleave', layout: kernel.layout, entries }));
        pass.dispatchWorkgroups(gridX, gridY);
      }
      pass.end();
      ctx.device.queue.submit([encoder.finish()]);
      return out;
    } catch (error) {
      ctx.buffers.destroy(out);
      throw error;
    } finally {
      // Temporaries go as soon as the work is submitted; WebGPU keeps them until it has run.
      for (const buffer of temporaries) ctx.buffers.destroy(buffer);
    }
  };
  return checked(ctx, 'interleave', submit, (out) => ctx.buffers.destroy(out));
}
