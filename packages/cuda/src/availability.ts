import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { DeviceProperties, FaCudaAddon } from './addon.js';
import { formatAttempts, type LoadAttempt, loaderFixes, tryLoadAddon } from './loader.js';
import { type CudaAvailabilityOptions, checkCudaOptions } from './options.js';

export type { CudaAvailabilityOptions } from './options.js';

/** Kernels use cp.async and mma.sync (sm_80); older GPUs cannot run them. */
export const MIN_COMPUTE_CAPABILITY = 8.0;

export type CudaUnavailableReason = 'no-toolkit' | 'not-built' | 'load-error' | 'no-device' | 'unsupported-device';

export interface CudaDeviceInfo extends DeviceProperties {
  readonly index: number;
  /** e.g. "9.0" */
  readonly computeCapability: string;
}

export type CudaAvailability =
  | {
      readonly available: true;
      readonly addonPath: string;
      readonly device: CudaDeviceInfo;
      /** CUDA runtime and driver versions as CUDA encodes them (13000 = 13.0). */
      readonly runtimeVersion: number;
      readonly driverVersion: number;
      /** SM architectures the kernels were compiled for, e.g. ['80', '90']. */
      readonly archs: readonly string[];
    }
  | {
      readonly available: false;
      readonly reason: CudaUnavailableReason;
      /** What is wrong and what to do about it. */
      readonly message: string;
      /** Every place the loader looked, when the addon did not load. */
      readonly attempts?: readonly LoadAttempt[];
    };

/** The CUDA compiler, where the build script would look for it. */
export function findNvcc(env: Readonly<Record<string, string | undefined>> = process.env): string | undefined {
  const candidates = [
    env.CUDACXX,
    env.CUDA_HOME && join(env.CUDA_HOME, 'bin', 'nvcc'),
    env.CUDA_PATH && join(env.CUDA_PATH, 'bin', 'nvcc'),
    ...(env.PATH ?? '').split(delimiter).map((dir) => dir && join(dir, 'nvcc')),
    '/usr/local/cuda/bin/nvcc',
  ];
  return candidates.find((c): c is string => Boolean(c) && existsSync(c as string));
}

function unavailable(
  reason: CudaUnavailableReason,
  message: string,
  attempts?: readonly LoadAttempt[],
): CudaAvailability {
  return attempts ? { available: false, reason, message, attempts } : { available: false, reason, message };
}

function formatVersion(v: number): string {
  return `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}`;
}

/** Picks the device and checks it can run the kernels, given a loaded addon. */
export function deviceAvailability(addon: FaCudaAddon, addonPath: string, deviceIndex = 0): CudaAvailability {
  const { count, error } = addon.deviceCount();
  const versions = addon.versions();
  if (error !== null || count === 0) {
    const driver =
      versions.driver === 0
        ? 'no NVIDIA driver was found (libcuda.so)'
        : `driver ${formatVersion(versions.driver)}, runtime ${formatVersion(versions.runtime)}`;
    return unavailable(
      'no-device',
      `No CUDA device is usable: ${error ?? 'the runtime reports 0 devices'} (${driver}). ` +
        `Run on a machine with an NVIDIA GPU (compute capability >= ${MIN_COMPUTE_CAPABILITY.toFixed(1)}) and a driver ` +
        `that supports CUDA ${formatVersion(versions.runtime)}; check \`nvidia-smi\` and CUDA_VISIBLE_DEVICES.`,
    );
  }
  if (!Number.isSafeInteger(deviceIndex) || deviceIndex < 0 || deviceIndex >= count) {
    return unavailable(
      'no-device',
      `Expected a device index in [0, ${count}) for \`deviceIndex\`, received ${deviceIndex} (${count} CUDA device${count === 1 ? '' : 's'} visible).`,
    );
  }
  const props = addon.deviceInfo(deviceIndex);
  const capability = props.major + props.minor / 10;
  if (capability < MIN_COMPUTE_CAPABILITY) {
    return unavailable(
      'unsupported-device',
      `CUDA device ${deviceIndex} (${props.name}) has compute capability ${props.major}.${props.minor}; the kernels need ` +
        `${MIN_COMPUTE_CAPABILITY.toFixed(1)} or newer (Ampere, Ada, Hopper). Pick another device with \`deviceIndex\`.`,
    );
  }
  return {
    available: true,
    addonPath,
    device: { ...props, index: deviceIndex, computeCapability: `${props.major}.${props.minor}` },
    runtimeVersion: versions.runtime,
    driverVersion: versions.driver,
    archs: addon.archs.split(','),
  };
}

/**
 * Whether the `cuda` backend can run here and, when not, why and what to do: the addon was not built (`not-built`,
 * or `no-toolkit` when there is no nvcc to build it with), did not load (`load-error`), or loaded but finds no
 * usable GPU (`no-device`, `unsupported-device`). Never throws.
 */
export function cudaAvailability(options: CudaAvailabilityOptions = {}): CudaAvailability {
  checkCudaOptions(options);
  const loaded = tryLoadAddon(options);
  if (!('addon' in loaded)) {
    const { attempts } = loaded;
    const fixes = loaderFixes(attempts)
      .map((f) => `  * ${f}`)
      .join('\n');
    const tried = `Tried:\n${formatAttempts(attempts)}\nTo fix:\n${fixes}`;
    const explicitFailed = attempts.some((a) => a.source === 'option' || a.source === 'env');
    if (attempts.some((a) => a.failure === 'load-error') || explicitFailed) {
      return unavailable('load-error', `The CUDA addon did not load. ${tried}`, attempts);
    }
    if (findNvcc(options.env ?? process.env) === undefined) {
      return unavailable(
        'no-toolkit',
        `The CUDA addon is not built and no CUDA toolkit (nvcc) was found to build it. Install the CUDA toolkit >= 12.0 and CMake >= 3.18, then run \`pnpm --filter @fa/cuda build\`, or point at a prebuilt fa_cuda.node with createCudaBackend({ addonPath }) or FA_CUDA_ADDON.`,
        attempts,
      );
    }
    return unavailable('not-built', `The CUDA addon is not built. ${tried}`, attempts);
  }
  try {
    return deviceAvailability(loaded.addon, loaded.path, options.deviceIndex ?? 0);
  } catch (error) {
    return unavailable(
      'no-device',
      `Querying CUDA devices failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
