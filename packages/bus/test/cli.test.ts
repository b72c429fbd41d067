// The mmsb command line: version, help, usage errors and the quickstart.
import { describe, expect, it } from 'vitest';

import { main } from '../src/cli/main.js';
import { VERSION } from '../src/index.js';

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
});
