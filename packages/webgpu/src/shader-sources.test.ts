import { registerBackend, unregisterBackend } from '@fa/core';
import { flashAttnVarlen, flashAttnVarlenBackward } from '@fa/flash-attn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebGpuBackend, type WebGpuBackend } from './index.js';

/**
 * Shader code must come from compile-time facts only (head dims, tile sizes, dtype, which mask features are on):
 * no string a caller supplies may reach WGSL. This test records every shader module the backend creates while
 * calls carry WGSL-looking payloads everywhere a caller can put a string, and looks for them in the code.
 */
const PAYLOAD = 'fa_injected_marker';
const sources: string[] = [];
/** Dawn's instance must outlive every device made from it, or the process aborts. */
let instance: GPU | undefined;

async function recordingAdapter(): Promise<GPUAdapter> {
  const { create, globals } = (await import('webgpu')) as unknown as {
    create: (flags: string[]) => GPU;
    globals: object;
  };
  Object.assign(globalThis, globals);
  instance = create([]);
  const adapter = (await instance.requestAdapter()) as GPUAdapter;
  const requestDevice = adapter.requestDevice.bind(adapter);
  return new Proxy(adapter, {
    get(target, key) {
      if (key !== 'requestDevice') {
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return async (descriptor?: GPUDeviceDescriptor) => {
        const device = await requestDevice(descriptor);
        const createShaderModule = device.createShaderModule.bind(device);
        return new Proxy(device, {
          get(d, k) {
            if (k === 'createShaderModule') {
              return (module: GPUShaderModuleDescriptor) => {
                sources.push(module.code);
                return createShaderModule(module);
              };
            }
            const value = Reflect.get(d, k, d);
            return typeof value === 'function' ? value.bind(d) : value;
          },
        });
      };
    },
  });
}

function cu(lengths: number[]): Int32Array {
  return Int32Array.from([0, ...lengths.map((_, i) => lengths.slice(0, i + 1).reduce((a, b) => a + b, 0))]);
}

function host(shape: number[], offset: number) {
  const n = shape.reduce((a, b) => a * b, 1);
  return { data: Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.7 + offset)), shape, dtype: 'f32' as const };
}

describe('shader sources', () => {
  let backend: WebGpuBackend;
  const name = 'webgpu-shader-sources';
  beforeAll(async () => {
    backend = await createWebGpuBackend({ adapter: await recordingAdapter() });
    registerBackend(name, () => backend);
  });
  afterAll(() => {
    unregisterBackend(name);
    backend?.destroy?.();
  });

  it('never contain a string the caller supplied, and do not change when only the data does', async () => {
    const run = async (lengths: number[], extra: Record<string, unknown>) => {
      const total = lengths.reduce((a, b) => a + b, 0);
      const q = { ...host([total, 2, 5], 0.3), [`${PAYLOAD}_q`]: `}; fn ${PAYLOAD}() {` };
      const k = host([total, 1, 5], 1.3);
      const v = host([total, 1, 5], 2.3);
      const options = { cuSeqlensQ: cu(lengths), cuSeqlensK: cu(lengths), causal: true, backend: name, ...extra };
      const { out, lse } = await flashAttnVarlen(q, k, v, options);
      const grads = await flashAttnVarlenBackward(host([total, 2, 5], 4.1), q, k, v, out, lse, options);
      for (const t of [out, lse, grads.dq, grads.dk, grads.dv]) t.dispose();
    };
    // An options bag takes no key it does not know, so a payload there is refused before any shader is built.
    const before = sources.length;
    await expect(run([3, 0, 7], { [`${PAYLOAD}_option`]: `*/ ${PAYLOAD} /*` })).rejects.toMatchObject({
      code: 'E_VALUE',
      argument: `options.${PAYLOAD}_option`,
    });
    expect(sources.length).toBe(before);
    await run([3, 0, 7], { softcap: 3 });
    const compiled = sources.length;
    expect(compiled).toBeGreaterThanOrEqual(4);
    await run([9, 2], { softcap: 3 });
    expect(sources.length).toBe(compiled);
    for (const code of sources) expect(code).not.toContain(PAYLOAD);
  });
});
