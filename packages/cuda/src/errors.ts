import { FaError } from '@fa/core';
import { isAddonArgumentError } from './addon.js';

/**
 * Turns what the addon throws into the library's errors: a bad argument (the binding checks every one before
 * touching the device) becomes `E_VALUE` naming it, an allocation failure `E_LIMIT`, any other CUDA failure
 * `E_DEVICE_LOST` (CUDA errors after a launch are sticky: the context must be recreated).
 */
export function toFaError(error: unknown, what: string): FaError {
  if (error instanceof FaError) return error;
  if (isAddonArgumentError(error)) {
    return new FaError('E_VALUE', `cuda ${what}: ${error.message}`, { argument: error.argument, cause: error });
  }
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'E_CUDA_OOM' || /cudaErrorMemoryAllocation/.test(message)) {
    return new FaError('E_LIMIT', `cuda ${what}: out of device memory (${message})`, { cause: error });
  }
  return new FaError('E_DEVICE_LOST', `cuda ${what}: ${message}`, { cause: error });
}
