// The checks `pnpm release` makes of each platform package's addon, on this
// machine's own build (x64, linked against this Debian's glibc 2.36).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { elfCpu, glibcFloor, unsuitable } from '../elf.mjs';
import { ROOT } from '../workspace.mjs';

const built = readFileSync(join(ROOT, 'packages', 'core-native', `mmsb.linux-${process.arch}-gnu.node`));

describe('a platform addon against its package', () => {
  it('reads the machine and the newest glibc version from the file', () => {
    expect(elfCpu(built)).toBe(process.arch);
    expect(elfCpu(Buffer.from('#!/bin/sh\n'.padEnd(64)))).toBeUndefined();
    const [major, minor] = glibcFloor(built)!;
    expect(major).toBe(2);
    expect(minor).toBeGreaterThanOrEqual(17);
    expect(glibcFloor(Buffer.from('no versions here'))).toBeUndefined();
    expect(glibcFloor(Buffer.from('GLIBC_2.2.5 GLIBC_2.17 GLIBC_2.9'))).toEqual([2, 17]);
  });

  it("refuses another machine's build, a glibc build for musl, and one newer than glibc 2.17", () => {
    const other = process.arch === 'x64' ? 'arm64' : 'x64';
    expect(unsuitable(built, { cpu: [other], libc: ['glibc'] })).toBe(`built for ${process.arch}, the package is for ${other}`);
    expect(unsuitable(built, { cpu: [process.arch], libc: ['musl'] })).toMatch(/^needs glibc 2\.\d+, the package is for musl$/);
    expect(unsuitable(built, { cpu: [process.arch], libc: ['glibc'] })).toMatch(/^needs glibc 2\.(1[89]|[2-9]\d), newer than the 2\.17/);
    const old = Buffer.concat([built.subarray(0, 64), Buffer.from(' GLIBC_2.2.5 GLIBC_2.17 ')]);
    expect(unsuitable(old, { cpu: [process.arch], libc: ['glibc'] })).toBeUndefined();
  });
});
