import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, expect } from 'vitest';

import { MmsbError, type ErrorCode } from '../src/index.js';

/** Runs `call` (sync or async) and checks it fails with MmsbError `code`. */
export async function expectMmsbError(call: () => unknown, code: ErrorCode): Promise<MmsbError> {
  let thrown: unknown;
  try {
    await call();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `expected MmsbError ${code}`).toBeInstanceOf(MmsbError);
  const error = thrown as MmsbError;
  expect(error.code, error.message).toBe(code);
  expect(error.message.length).toBeGreaterThan(10);
  return error;
}

export function bytes(length: number, fill = 0): Uint8Array {
  return new Uint8Array(length).fill(fill);
}

const scratchDirectories: string[] = [];

// Data directories hold a preallocated log segment each; remove them after every test file.
afterAll(() => {
  for (const directory of scratchDirectories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

/** A fresh directory under the system temp directory, removed after the test file. */
export function scratchDirectory(prefix: string): string {
  const directory = mkdtempSync(join(tmpdir(), `mmsb-${prefix}-`));
  scratchDirectories.push(directory);
  return directory;
}
