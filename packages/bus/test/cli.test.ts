// The mmsb command line: version, help, usage errors and the quickstart.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { main } from '../src/cli/main.js';
import { Bus, dense, VERSION } from '../src/index.js';
import { scratchDirectory } from './support.js';

async function run(...argv: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await main(argv, (line) => lines.push(line));
  return { code, lines };
}

describe('mmsb', () => {
  it('--version prints the package version', async () => {
    expect(await run('--version')).toEqual({ code: 0, lines: [VERSION] });
  });

  it('--help lists the commands', async () => {
    const { code, lines } = await run('--help');
    expect(code).toBe(0);
    expect(lines.join('\n')).toContain('mmsb demo');
  });

  it('an unknown command or flag is a usage error', async () => {
    expect((await run('frobnicate')).code).toBe(2);
    expect((await run('--frobnicate')).code).toBe(2);
  });

  it('demo applies every kind of delta and prints a reproducible state hash', async () => {
    const first = await run('demo');
    const second = await run('demo');
    expect(first.code).toBe(0);
    const text = first.lines.join('\n');
    for (const step of ['dense:', 'sparse:', 'ranges', 'batch of 2', 'DELTA_SIZE_MISMATCH', 'unchanged by the rejected delta: true']) {
      expect(text).toContain(step);
    }
    const hash = first.lines.at(-1)!.match(/[0-9a-f]{64}$/)?.[0];
    expect(hash).toBeDefined();
    expect(second.lines.at(-1)).toBe(first.lines.at(-1));
  });

  it('log, checkpoint, replay and verify describe a data directory', async () => {
    const directory = await filledDirectory();
    const log = await run('log', directory, '--records');
    expect(log.code).toBe(0);
    const text = log.lines.join('\n');
    expect(text).toMatch(/deltas\s+20/);
    expect(text).toContain('21 records, LSN 1 to 21.');
    expect((await run('checkpoint', directory)).lines[0]).toMatch(/^checkpoint at LSN 21: 2 pages/);
    const replay = await run('replay', directory, '--to', '21');
    expect(replay.code).toBe(0);
    expect(replay.lines.join('\n')).toContain('2 live pages');
    const verify = await run('verify', directory);
    expect(verify.code).toBe(0);
    expect(verify.lines.at(-1)).toBe('verify: everything checks out');
  });

  it('verify reports a damaged record, open refuses, repair cuts the log and keeps the rest aside', async () => {
    const directory = await filledDirectory();
    const segment = join(directory, 'log', readdirSync(join(directory, 'log'))[0]!);
    const bytes = readFileSync(segment);
    bytes[200] = bytes[200]! ^ 0xff;
    writeFileSync(segment, bytes);
    const verify = await run('verify', directory);
    expect(verify.code).toBe(1);
    expect(verify.lines.join('\n')).toContain('LOG_CORRUPT');
    expect((await run('replay', directory, '--to', '1')).code).toBe(1);
    const repair = await run('repair', directory);
    expect(repair.code).toBe(0);
    expect(repair.lines.join('\n')).toMatch(/kept in .*salvage-/);
    const bus = await Bus.open(directory);
    expect(bus.lsn).toBeGreaterThan(0);
    expect(bus.lsn).toBeLessThan(21);
    await bus.close();
    expect((await run('verify', directory)).code).toBe(0);
  });

  it('commands that need a directory or an LSN say so', async () => {
    expect((await run('log')).code).toBe(1);
    expect((await run('replay', scratchDirectory('cli'), '--to', 'soon')).code).toBe(1);
  });
});

async function filledDirectory(): Promise<string> {
  const directory = scratchDirectory('cli');
  const bus = await Bus.open(directory);
  const [first, second] = await bus.createPages(2, { size: 32 });
  for (let value = 0; value < 20; value++) {
    await bus.apply({ pageId: value % 2 === 0 ? first! : second!, payload: dense(new Uint8Array(32).fill(value)) });
  }
  await bus.close();
  return directory;
}
