// Recovery modes, torn tails, verify and repair through the public API and
// the CLI, and the failure contract of the group commit. Each regression says
// what broke before.
import { readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { main } from '../src/cli/main.js';
import { GroupCommit } from '../src/group-commit.js';
import { Bus, dense, ErrorCode, MmsbError } from '../src/index.js';
import { bytes, expectMmsbError, scratchDirectory } from './support.js';

/** Runs the CLI, collecting what it prints and what it writes to stderr. */
async function run(...argv: string[]): Promise<{ code: number; text: string }> {
  const lines: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => lines.push(String(chunk)) > 0) as typeof process.stderr.write;
  try {
    const code = await main(argv, (line) => lines.push(line));
    return { code, text: lines.join('\n') };
  } finally {
    process.stderr.write = write;
  }
}

/** A directory with `count` acknowledged 64-byte deltas in small segments; returns its newest segment. */
async function written(directory: string, count: number): Promise<string> {
  const bus = await Bus.open(directory, { segmentBytes: 512 });
  const page = await bus.createPage({ size: 64 });
  for (let value = 1; value <= count; value++) await bus.apply({ pageId: page, payload: dense(bytes(64, value)) });
  await bus.close();
  const segments = readdirSync(join(directory, 'log')).sort();
  return join(directory, 'log', segments.at(-1)!);
}

/** Flips one byte near the end of the newest segment's records (its last record's body). */
function damageLastRecord(segment: string): void {
  const file = readFileSync(segment);
  let end = file.length;
  while (end > 0 && file[end - 1] === 0xff) end--;
  file[end - 3]! ^= 0x01;
  writeFileSync(segment, file);
}

function snapshot(directory: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of readdirSync(directory, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) files.set(join(entry.parentPath, entry.name), readFileSync(join(entry.parentPath, entry.name)).toString('hex'));
  }
  return files;
}

describe('recovery modes', () => {
  // Before: a flipped byte in the last record was cut as a torn write, the
  // bytes were gone for good, and only tornBytesTruncated told.
  it('salvage-tail cuts a torn tail into a salvage file and warns; strict refuses and changes nothing', async () => {
    const directory = scratchDirectory('torn');
    damageLastRecord(await written(directory, 5));
    const before = snapshot(directory);
    const refusal = await expectMmsbError(() => Bus.open(directory, { recovery: 'strict' }), ErrorCode.LOG_CORRUPT);
    expect(refusal.message).toMatch(/strict recovery refuses to open: segment \d{20}\.log offset \d+/);
    expect(snapshot(directory)).toEqual(before);

    const verify = await run('verify', directory);
    expect(verify.code).toBe(1);
    expect(verify.text).toMatch(/torn tail of .* at offset \d+/);

    const warnings: Error[] = [];
    const listen = (warning: Error) => warnings.push(warning);
    process.on('warning', listen);
    const bus = await Bus.open(directory);
    await new Promise((resolve) => setImmediate(resolve));
    process.off('warning', listen);
    const torn = bus.recovery!.tornTail!;
    expect(torn.bytes).toBeGreaterThan(0);
    expect(bus.recovery!.tornBytesTruncated).toBe(torn.bytes);
    expect(statSync(torn.salvageFile).size).toBe(torn.bytes);
    expect(warnings.map((warning) => (warning as Error & { code?: string }).code)).toContain('MMSB_TORN_TAIL');
    await bus.close();

    const after = await run('verify', directory);
    expect(after.code, after.text).toBe(0);
    expect(after.text).toContain(`salvage file kept: ${torn.salvageFile}`);
  });

  it('refuses an unknown recovery mode', async () => {
    await expectMmsbError(() => Bus.open(scratchDirectory('mode'), { recovery: 'lenient' as never }), ErrorCode.INVALID_ARGUMENT);
  });
});

describe('verify and repair', () => {
  // Before: with default options, three checkpoints made verify fail a healthy
  // directory with "LSN_OUT_OF_RANGE: LSN 12 is after the last record, LSN 8".
  it('verify passes a healthy directory whose incremental chain is older than the retained log', async () => {
    const directory = scratchDirectory('chain');
    const bus = await Bus.open(directory);
    const big = await bus.createPage({ size: 1 << 16 });
    const small = await bus.createPage({ size: 8 });
    await bus.apply({ pageId: big, payload: dense(bytes(1 << 16, 1)) });
    for (let round = 0; round < 4; round++) {
      await bus.apply({ pageId: small, payload: dense(bytes(8, round)) });
      await bus.checkpoint();
    }
    await bus.close();
    const verify = await run('verify', directory);
    expect(verify.code, verify.text).toBe(0);
    expect(verify.text).toContain('verify: everything checks out');
  });

  // Before: deleting the newest segment opened at an earlier LSN, and verify
  // said "everything checks out"; repair then said it had fixed things that
  // still did not open.
  it('a deleted newest segment is refused, reported by verify, and repaired to a directory that opens', async () => {
    const directory = scratchDirectory('deleted');
    const newest = await written(directory, 30);
    unlinkSync(newest);
    const refusal = await expectMmsbError(() => Bus.open(directory), ErrorCode.LOG_CORRUPT);
    expect(refusal.message).toContain('is sealed and continues in segment');
    expect((await run('verify', directory)).code).toBe(1);
    const repair = await run('repair', directory);
    expect(repair.code, repair.text).toBe(0);
    const lsn = Number(repair.text.match(/now opens at LSN (\d+)/)![1]);
    const bus = await Bus.open(directory, { recovery: 'strict' });
    expect(bus.lsn).toBe(lsn);
    await bus.close();
    expect((await run('verify', directory)).code).toBe(0);
  });

  it('repair refuses, changing nothing, when no consistent state can be rebuilt', async () => {
    const directory = scratchDirectory('unrepairable');
    await written(directory, 30);
    const segments = readdirSync(join(directory, 'log')).sort();
    unlinkSync(join(directory, 'log', segments[0]!));
    const before = snapshot(directory);
    const repair = await run('repair', directory);
    expect(repair.code).not.toBe(0);
    expect(repair.text).toContain('nothing was changed');
    expect(snapshot(directory)).toEqual(before);
  });
});

describe('group commit after a failed sync', () => {
  // Before: once the log had failed, `sync()` still resolved when nothing new
  // was written, because the group commit answered from its durable LSN.
  it('rejects every later sync with the failure code, even for LSNs durable before', async () => {
    let fail = false;
    const commits = new GroupCommit(
      () => Promise.resolve(fail ? { errorCode: ErrorCode.DURABILITY_UNKNOWN, errorMessage: 'sync failed' } : { durableLsn: 5 }),
      0,
    );
    await commits.waitFor(5);
    fail = true;
    await expect(commits.waitFor(5)).resolves.toBeUndefined();
    const error = await commits.syncThrough(5).catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(MmsbError);
    expect((error as MmsbError).code).toBe(ErrorCode.DURABILITY_UNKNOWN);
    await expect(commits.waitFor(6)).rejects.toMatchObject({ code: ErrorCode.DURABILITY_UNKNOWN });
  });
});

describe('closing', () => {
  // Before: a call made while close() was syncing was applied and made
  // durable, although later calls are documented to fail with BUS_CLOSED.
  it('a call made while close() runs fails with BUS_CLOSED and changes nothing', async () => {
    const directory = scratchDirectory('closing');
    const bus = await Bus.open(directory);
    const page = await bus.createPage({ size: 8 });
    const lsn = bus.lsn;
    const closing = bus.close();
    await expectMmsbError(() => bus.apply({ pageId: page, payload: dense(bytes(8, 1)) }), ErrorCode.BUS_CLOSED);
    await closing;
    const reopened = await Bus.open(directory);
    expect(reopened.lsn).toBe(lsn);
    await reopened.close();
  });
});

describe('options', () => {
  // Before: a negative, NaN, zero or string waveLimit was accepted.
  it.each([-1, Number.NaN, 0, 1.5, '10'])('waveLimit %s is refused', async (waveLimit) => {
    await expectMmsbError(() => Bus.open(':memory:', { waveLimit: waveLimit as never }), ErrorCode.INVALID_ARGUMENT);
  });
});

describe('background work and writes', () => {
  // Before: the interval sync held the native state borrowed while it ran on
  // a worker, so every write meanwhile failed with INTERNAL (and timed
  // checkpoints under write load almost never succeeded).
  it('writes and checkpoints succeed while an interval sync runs', async () => {
    const failures: MmsbError[] = [];
    const bus = await Bus.open(scratchDirectory('interval'), {
      fsync: 'interval',
      fsyncIntervalMs: 1,
      checkpointEveryMs: 5,
      onBackgroundError: (error) => failures.push(error),
    });
    const page = await bus.createPage({ size: 64 });
    const started = Date.now();
    let writes = 0;
    while (Date.now() - started < 300) {
      await bus.apply({ pageId: page, payload: dense(bytes(64, writes & 0xff)) });
      if (++writes % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
    }
    await bus.checkpoint();
    expect(bus.stats().logSyncs).toBeGreaterThan(0);
    expect(failures).toEqual([]);
    await bus.close();
  });

  // Before: 30 days was accepted and Node fired the timer every millisecond.
  it.each(['fsyncIntervalMs', 'checkpointEveryMs'])('%s above the longest Node timer is refused', async (key) => {
    await expectMmsbError(() => Bus.open(scratchDirectory('timer'), { [key]: 2_592_000_000 }), ErrorCode.INVALID_ARGUMENT);
  });

  it('an unknown option is refused, not ignored', async () => {
    await expectMmsbError(() => Bus.open(':memory:', { wavelimit: 5 } as never), ErrorCode.INVALID_ARGUMENT);
  });

  // Before: the checkpoint's marker record stayed unsynced under fsync 'always'.
  it('a checkpoint resolves with its marker durable', async () => {
    const bus = await Bus.open(scratchDirectory('marker'), { fsync: 'always' });
    await bus.createPage({ size: 8 });
    await bus.checkpoint();
    expect(bus.durableLsn).toBe(bus.lsn);
    await bus.close();
  });
});

describe('changing the bus from a recompute', () => {
  // Before: an apply inside a recompute was applied and logged but rejected,
  // and a release inside one made the outer apply reject after its commit.
  it('is refused before anything is applied, and the wave completes', async () => {
    const bus = Bus.memory();
    const [source, child, other] = await bus.createPages(3, { size: 4 });
    await bus.addEdge(source!, child!);
    const refusals: string[] = [];
    const attempt = (change: () => unknown) => {
      try {
        const result = change();
        if (result instanceof Promise) result.catch((error: MmsbError) => refusals.push(error.code));
      } catch (error) {
        refusals.push((error as MmsbError).code);
      }
    };
    bus.recompute(child!, ([parent]) => {
      attempt(() => bus.apply({ pageId: other!, payload: dense(bytes(4, 9)) }));
      attempt(() => bus.releasePage(other!));
      attempt(() => bus.close());
      return parent!.slice();
    });
    const before = bus.page(other!);
    await bus.apply({ pageId: source!, payload: dense(bytes(4, 5)) });
    await new Promise((resolve) => setImmediate(resolve));
    expect(refusals).toEqual([ErrorCode.INVALID_ARGUMENT, ErrorCode.INVALID_ARGUMENT, ErrorCode.INVALID_ARGUMENT]);
    expect(bus.page(other!)).toEqual(before);
    expect([...bus.read(child!)]).toEqual([5, 5, 5, 5]);
  });
});

describe('recompute scratch memory', () => {
  // Before: `out` could start at any offset, so viewing it as floats threw.
  it('out is 8-aligned, so a recompute may view it as f64s', async () => {
    const bus = Bus.memory();
    const [source, first, second] = await bus.createPages(3, { size: 16 });
    await bus.addEdge(source!, first!);
    await bus.addEdge(source!, second!);
    const offsets: number[] = [];
    const asFloats = (_parents: readonly Uint8Array[], _current: Uint8Array, _child: number, out?: Uint8Array) => {
      offsets.push(out!.byteOffset);
      new Float64Array(out!.buffer, out!.byteOffset, 2).set([1.5, 2.5]);
      return out!;
    };
    bus.recompute(first!, asFloats);
    bus.recompute(second!, asFloats);
    await bus.apply({ pageId: source!, payload: dense(bytes(16, 1)) });
    expect(offsets.every((offset) => offset % 8 === 0)).toBe(true);
    expect([...new Float64Array(bus.read(second!).buffer)]).toEqual([1.5, 2.5]);
  });
});
