/**
 * Whether the kernels may reduce a row across its lanes with subgroup shuffles, and over how many lanes.
 *
 * The forward kernel's lanes of one row group are consecutive invocations (`t / TPR`, `t % TPR`). A butterfly of
 * `subgroupShuffleXor` over them is only right when those lanes sit in one subgroup in the same order, i.e. when
 * invocation `t` is lane `t % size` of its subgroup and every subgroup holds at least `TPR` lanes. Drivers lay
 * subgroups out that way, but neither WGSL nor WebGPU promises it, so the layout is checked once per device by
 * running a probe kernel, and the width relied on is the adapter's *minimum* subgroup size (a pipeline may be
 * compiled for any size between the minimum and the maximum).
 */

const PROBE_WORKGROUP = 256;

const PROBE_WGSL = /* wgsl */ `
enable subgroups;
@group(0) @binding(0) var<storage, read_write> seen: array<u32>;

@compute @workgroup_size(${PROBE_WORKGROUP})
fn main(
  @builtin(local_invocation_index) t: u32,
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_size) size: u32,
) {
  // What a butterfly step would fetch: the lane t ^ 1 must hold invocation t ^ 1.
  let neighbour = subgroupShuffleXor(t, 1u);
  seen[3u * t] = lane;
  seen[3u * t + 1u] = size;
  seen[3u * t + 2u] = neighbour;
}
`;

/** True when every invocation of the probe reported the linear layout the kernels rely on. */
export function isLinearSubgroupLayout(seen: Uint32Array, minSize: number): boolean {
  const count = seen.length / 3;
  for (let t = 0; t < count; t++) {
    const lane = seen[3 * t];
    const size = seen[3 * t + 1];
    const neighbour = seen[3 * t + 2];
    if (size === undefined || size < minSize || count % size !== 0) return false;
    if (lane !== t % size) return false;
    if (size >= 2 && neighbour !== (t ^ 1)) return false;
  }
  return count > 0;
}

/**
 * The subgroup width the row reductions may rely on: the adapter's minimum subgroup size when the device has
 * `subgroups`, reports that minimum, and passes the layout probe; 0 otherwise (the kernels then reduce through
 * workgroup memory). Never throws: a probe that fails to compile or run just means 0.
 */
export async function subgroupReduceWidth(device: GPUDevice): Promise<number> {
  if (!device.features.has('subgroups' as GPUFeatureName)) return 0;
  // Typed loosely: older @webgpu/types (and older browsers) lack `adapterInfo.subgroupMinSize`.
  const minSize = (device as { adapterInfo?: { subgroupMinSize?: number } }).adapterInfo?.subgroupMinSize;
  if (typeof minSize !== 'number' || minSize < 2 || (minSize & (minSize - 1)) !== 0) return 0;
  if (device.limits.maxComputeInvocationsPerWorkgroup < PROBE_WORKGROUP) return 0;
  const bytes = PROBE_WORKGROUP * 3 * 4;
  const buffers: GPUBuffer[] = [];
  // Nothing is awaited between the push and the pop: error scopes are a per-device stack.
  device.pushErrorScope('validation');
  let readback: GPUBuffer | undefined;
  try {
    readback = submitProbe(device, bytes, buffers);
  } catch {
    readback = undefined;
  }
  try {
    const error = await device.popErrorScope();
    if (error || !readback) return 0;
    await readback.mapAsync(GPUMapMode.READ);
    const seen = new Uint32Array(readback.getMappedRange().slice(0));
    readback.unmap();
    return isLinearSubgroupLayout(seen, minSize) ? minSize : 0;
  } catch {
    return 0;
  } finally {
    for (const buffer of buffers) buffer.destroy();
  }
}

/** Encodes and submits the probe; returns the buffer its results are copied to. */
function submitProbe(device: GPUDevice, bytes: number, buffers: GPUBuffer[]): GPUBuffer {
  const storage = device.createBuffer({
    label: 'fa-subgroup-probe',
    size: bytes,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
  });
  buffers.push(storage);
  const readback = device.createBuffer({
    label: 'fa-subgroup-probe-read',
    size: bytes,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  buffers.push(readback);
  const pipeline = device.createComputePipeline({
    label: 'fa-subgroup-probe',
    layout: 'auto',
    compute: { module: device.createShaderModule({ code: PROBE_WGSL }), entryPoint: 'main' },
  });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(
    0,
    device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [{ binding: 0, resource: { buffer: storage } }],
    }),
  );
  pass.dispatchWorkgroups(1);
  pass.end();
  encoder.copyBufferToBuffer(storage, 0, readback, 0, bytes);
  device.queue.submit([encoder.finish()]);
  return readback;
}
