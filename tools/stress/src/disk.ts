/** Sizes of data directories, and the disk bound. */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { check } from './invariants.js';
import type { Tally } from './tally.js';

/**
 * No data directory of the run may grow past this: each holds well under
 * 1 MiB of state, a preallocated segment of a few MiB, and what retention
 * keeps; a directory past it means retention stopped deleting.
 */
export const DATA_DIRECTORY_BYTES_MAX = 96 * 1024 * 1024;

/** Checks the disk bound on `directory` and notes its size in the tally. */
export function checkDiskBound(tally: Tally, directory: string): void {
  const bytes = directoryBytes(directory);
  tally.diskBytesPeak = Math.max(tally.diskBytesPeak, bytes);
  check(bytes <= DATA_DIRECTORY_BYTES_MAX, 'disk-unbounded', () => `${directory} holds ${bytes} bytes (bound ${DATA_DIRECTORY_BYTES_MAX})`);
}

/** Bytes of the files under `directory` (their apparent sizes; 0 when it is gone). */
export function directoryBytes(directory: string): number {
  let total = 0;
  let entries;
  try {
    entries = readdirSync(directory, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) total += directoryBytes(path);
    else if (entry.isFile()) total += statSync(path, { throwIfNoEntry: false })?.size ?? 0;
  }
  return total;
}

/** Files and directories under `directory`, recursively (0 when it is gone or empty). */
export function entryCount(directory: string): number {
  let entries;
  try {
    entries = readdirSync(directory, { withFileTypes: true });
  } catch {
    return 0;
  }
  return entries.reduce((count, entry) => count + 1 + (entry.isDirectory() ? entryCount(join(directory, entry.name)) : 0), 0);
}
