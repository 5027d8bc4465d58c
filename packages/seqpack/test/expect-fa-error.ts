import { FaError, type FaErrorCode } from '@fa/core';
import { expect } from 'vitest';

/** Asserts that `fn` throws an `FaError` with `code` that names `argument` in its message and details. */
export function expectFaError(fn: () => unknown, code: FaErrorCode, argument: string): FaError {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(FaError);
  const error = thrown as FaError;
  expect(error.code).toBe(code);
  expect(error.argument).toBe(argument);
  expect(error.message).toContain(`\`${argument}\``);
  return error;
}
