#!/usr/bin/env node
// What WebGPU (Dawn, through the npm package `webgpu`) offers on this machine: adapter info, every feature, every
// limit, subgroup sizes and subgroup-matrix configurations, under several sets of Dawn toggles — and, where the
// adapter lists `shader-f16`, whether an f16 compute shader actually compiles and computes right. Each toggle set
// runs in its own child process (a Dawn instance per process; a crash is recorded, not fatal).
//
//   node scripts/device/webgpu-adapter.mjs [--out FILE.json] [--expect-vendor nvidia]
//
// --expect-vendor: exit 1 when the default adapter's vendor is not this one (e.g. Dawn fell back to SwiftShader).
//
// Dawn leaves ShaderF16 off on NVIDIA Vulkan (crbug.com/tint/2164) unless the toggle vulkan_enable_f16_on_nvidia is
// on; allow_unsafe_apis exposes experimental features such as chromium-experimental-subgroup-matrix.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TOGGLE_SETS = [
  [],
  ['allow_unsafe_apis'],
  ['vulkan_enable_f16_on_nvidia'],
  ['allow_unsafe_apis', 'vulkan_enable_f16_on_nvidia'],
];

/** Every property of an object, own and inherited (Dawn's are getters on prototypes), as plain data. */
function plain(object) {
  const out = {};
  for (let o = object; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const name of Object.getOwnPropertyNames(o)) {
      if (name === 'constructor' || name in out) continue;
      let value;
      try {
        value = object[name];
      } catch (error) {
        value = `<threw: ${error?.message ?? error}>`;
      }
      if (typeof value === 'function') continue;
      if (value instanceof Set || (value && typeof value[Symbol.iterator] === 'function' && typeof value !== 'string'))
        value = [...value].map((v) => (v && typeof v === 'object' ? plain(v) : v));
      else if (value && typeof value === 'object') value = plain(value);
      out[name] = value;
    }
  }
  return out;
}

/** Runs a tiny `enable f16;` compute shader and checks its result: out[i] = f32(f16(in[i]) * 2.5h). */
async function tryF16(adapter) {
  const device = await adapter.requestDevice({ requiredFeatures: ['shader-f16'] });
  const errors = [];
  device.addEventListener?.('uncapturederror', (event) => errors.push(String(event.error?.message ?? event.error)));
  device.pushErrorScope('validation');
  const module = device.createShaderModule({
    code: `enable f16;
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) {
  let h: f16 = f16(src[id.x]);
  dst[id.x] = f32(h * 2.5h);
}`,
  });
  const info = await module.getCompilationInfo?.();
  const n = 256;
  const input = Float32Array.from({ length: n }, (_, i) => (i - 128) / 16);
  const src = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  const dst = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const read = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(src, 0, input);
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const bind = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: src } },
      { binding: 1, resource: { buffer: dst } },
    ],
  });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bind);
  pass.dispatchWorkgroups(n / 64);
  pass.end();
  encoder.copyBufferToBuffer(dst, 0, read, 0, n * 4);
  device.queue.submit([encoder.finish()]);
  const validation = await device.popErrorScope();
  await read.mapAsync(GPUMapMode.READ);
  const got = new Float32Array(read.getMappedRange().slice(0));
  read.unmap();
  let maxError = 0;
  for (let i = 0; i < n; i++) maxError = Math.max(maxError, Math.abs(got[i] - input[i] * 2.5));
  device.destroy();
  return {
    compiled: !validation,
    validationError: validation ? String(validation.message) : null,
    compilationMessages: info?.messages?.map((m) => `${m.type}: ${m.message}`) ?? [],
    maxError,
    correct: !validation && maxError === 0,
    uncapturedErrors: errors,
  };
}

async function child(toggles) {
  const webgpuEntry = createRequire(join(root, 'packages', 'webgpu', 'package.json')).resolve('webgpu');
  const { create, globals } = await import(pathToFileURL(webgpuEntry).href);
  Object.assign(globalThis, globals);
  const flags = toggles.length ? [`enable-dawn-features=${toggles.join(',')}`] : [];
  const gpu = create(flags);
  const report = { toggles, flags };
  for (const powerPreference of ['high-performance']) {
    const adapter = await gpu.requestAdapter({ powerPreference });
    if (!adapter) {
      report.adapter = null;
      break;
    }
    const features = [...adapter.features].sort();
    const info = plain(adapter.info ?? {});
    report.adapter = {
      info,
      isFallbackAdapter: adapter.isFallbackAdapter ?? info.isFallbackAdapter ?? null,
      features,
      limits: plain(adapter.limits),
    };
    report.shaderF16 = features.includes('shader-f16');
    report.subgroups = {
      feature: features.includes('subgroups'),
      minSize: info.subgroupMinSize ?? null,
      maxSize: info.subgroupMaxSize ?? null,
    };
    report.subgroupMatrixConfigs = info.subgroupMatrixConfigs ?? null;
    if (report.shaderF16) {
      try {
        report.f16Shader = await tryF16(adapter);
      } catch (error) {
        report.f16Shader = { error: String(error?.stack ?? error) };
      }
    }
  }
  process.stdout.write(`${JSON.stringify(report)}\n`);
  // Dawn's instance can keep the process alive; the report is written, so leave.
  process.exit(0);
}

if (process.argv[2] === '--child') {
  await child(JSON.parse(process.argv[3]));
} else {
  const argv = process.argv.slice(2);
  const out = argv.includes('--out') ? argv[argv.indexOf('--out') + 1] : '';
  const runs = [];
  for (const toggles of TOGGLE_SETS) {
    const result = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', JSON.stringify(toggles)], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    const line = result.stdout.trim().split('\n').pop() ?? '';
    let report;
    try {
      report = JSON.parse(line);
    } catch {
      report = { toggles, error: `exit ${result.status ?? result.signal}`, stdout: result.stdout.slice(-2000) };
    }
    report.stderr = result.stderr.slice(-4000);
    runs.push(report);
    const a = report.adapter;
    console.log(
      `toggles [${toggles.join(', ')}]: ${a ? `${a.info.vendor ?? ''} ${a.info.architecture ?? ''} ${a.info.device ?? ''} ${a.info.description ?? ''}`.trim() : `no adapter ${report.error ?? ''}`}`,
    );
    if (a) {
      console.log(`  features (${a.features.length}): ${a.features.join(' ')}`);
      console.log(
        `  shader-f16: ${report.shaderF16}${report.f16Shader ? ` (f16 shader: ${report.f16Shader.error ? `threw ${report.f16Shader.error.split('\n')[0]}` : report.f16Shader.correct ? 'compiled and computed right' : `compiled ${report.f16Shader.compiled}, max error ${report.f16Shader.maxError}`})` : ''}; subgroups ${report.subgroups.minSize}..${report.subgroups.maxSize}; subgroup-matrix configs: ${JSON.stringify(report.subgroupMatrixConfigs)}`,
      );
      const l = a.limits;
      console.log(
        `  limits: workgroup storage ${l.maxComputeWorkgroupStorageSize}, invocations ${l.maxComputeInvocationsPerWorkgroup}, storage buffers/stage ${l.maxStorageBuffersPerShaderStage}, binding ${l.maxStorageBufferBindingSize}, buffer ${l.maxBufferSize}`,
      );
    }
  }
  const document = {
    tool: 'scripts/device/webgpu-adapter.mjs',
    date: new Date().toISOString(),
    node: process.version,
    env: Object.fromEntries(['VK_DRIVER_FILES', 'VK_ICD_FILENAMES'].map((name) => [name, process.env[name] ?? null])),
    runs,
  };
  if (out) {
    writeFileSync(out, `${JSON.stringify(document, null, 2)}\n`);
    console.log(`wrote ${out}`);
  }
  const expected = argv.includes('--expect-vendor') ? argv[argv.indexOf('--expect-vendor') + 1] : '';
  const vendor = String(runs[0]?.adapter?.info?.vendor ?? '');
  if (expected && !vendor.toLowerCase().includes(expected.toLowerCase())) {
    console.log(`adapter vendor is '${vendor}', expected '${expected}': not the GPU`);
    process.exit(1);
  }
  process.exit(runs.some((r) => r.adapter) ? 0 : 1);
}
