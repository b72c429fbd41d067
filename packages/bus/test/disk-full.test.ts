// A real full disk: a 2 MiB tmpfs mounted for the test (it needs root, as CI
// has; elsewhere the test is skipped and says so). Regression: ENOSPC was a
// generic IO_ERROR that failed the log for good, writes appended before the
// failing 4 MiB preallocation were rejected although applied, and the log
// could not be written at all with less than a full preallocation free.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Bus, dense, ErrorCode, MmsbError } from '../src/index.js';
import { bytes } from './support.js';

const mountPoint = mkdtempSync(join(tmpdir(), 'mmsb-small-disk-'));
let mounted = false;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mountPoint], { stdio: 'ignore' });
  mounted = true;
} catch {
  // Not root, or no mount namespace of our own: nothing to test here.
}

afterAll(() => {
  if (mounted) execFileSync('umount', [mountPoint]);
  rmdirSync(mountPoint);
});

describe.skipIf(!mounted)('a full disk (2 MiB tmpfs)', () => {
  const filler = join(mountPoint, 'filler');
  beforeAll(() => writeFileSync(filler, bytes(1 << 20)));

  it('refuses only the writes that do not fit, with DISK_FULL, and takes writes again once space is freed', async () => {
    const directory = join(mountPoint, 'data');
    const bus = await Bus.open(directory, { fsync: 'always' });
    const page = await bus.createPage({ size: 64 << 10 });
    const acknowledged: number[] = [];
    let refusal: MmsbError | undefined;
    for (let value = 1; value < 64 && refusal === undefined; value++) {
      const before = bus.stateHash();
      try {
        acknowledged.push((await bus.apply({ pageId: page, payload: dense(bytes(64 << 10, value)) })).lsn);
      } catch (error) {
        refusal = error as MmsbError;
        expect(bus.stateHash(), 'a refused write is not applied').toBe(before);
      }
    }
    expect(refusal).toBeInstanceOf(MmsbError);
    expect(refusal!.code, refusal!.message).toBe(ErrorCode.DISK_FULL);
    expect(acknowledged.length).toBeGreaterThan(2);
    rmSync(filler);
    const { lsn } = await bus.apply({ pageId: page, payload: dense(bytes(64 << 10, 200)) });
    expect(lsn).toBe(acknowledged.at(-1)! + 1);
    await bus.sync();
    const hash = bus.stateHash();
    await bus.close();
    const reopened = await Bus.open(directory);
    expect(reopened.stateHash(), 'every acknowledged write, and nothing refused').toBe(hash);
    expect(reopened.lsn).toBe(lsn);
    await reopened.close();
  });
});
