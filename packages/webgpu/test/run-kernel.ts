import { acquireDevice } from '../src/gpu/device.js';

let devicePromise: Promise<GPUDevice> | undefined;

/** One device per test file, made the way the backend makes its own. */
export function testDevice(): Promise<GPUDevice> {
  devicePromise ??= acquireDevice({}).then((acquired) => acquired.device);
  return devicePromise;
}

/**
 * Runs a one-off compute shader whose `main` reads `input: array<u32>` (binding 0) and writes
 * `output: array<u32>` (binding 1), one workgroup of 64 invocations per 64 items, and returns the output words.
 */
export async function runWordKernel(
  code: string,
  input: Uint32Array,
  outputWords: number,
  items: number,
): Promise<Uint32Array> {
  const device = await testDevice();
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code });
  const pipeline = await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const inBuffer = device.createBuffer({ size: Math.max(4, input.byteLength), usage: 0x80 | 0x8 });
  device.queue.writeBuffer(inBuffer, 0, new Uint32Array(input));
  const outBuffer = device.createBuffer({ size: outputWords * 4, usage: 0x80 | 0x4 });
  const readBuffer = device.createBuffer({ size: outputWords * 4, usage: 0x1 | 0x8 });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(
    0,
    device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: inBuffer } },
        { binding: 1, resource: { buffer: outBuffer } },
      ],
    }),
  );
  pass.dispatchWorkgroups(Math.ceil(items / 64));
  pass.end();
  encoder.copyBufferToBuffer(outBuffer, 0, readBuffer, 0, outputWords * 4);
  device.queue.submit([encoder.finish()]);
  const error = await device.popErrorScope();
  if (error) throw new Error(error.message);
  await readBuffer.mapAsync(1);
  const result = new Uint32Array(readBuffer.getMappedRange().slice(0));
  readBuffer.unmap();
  for (const b of [inBuffer, outBuffer, readBuffer]) b.destroy();
  return result;
}
