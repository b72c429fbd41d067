// The addon loader of @mmsb/core-native where the addon is missing, of another
// version, damaged, or not made for the machine: its three files copied into
// a project of their own, with process.platform/arch faked in a child node.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { ROOT } from '../workspace.mjs';

const CORE = join(ROOT, 'packages', 'core-native');
const { version } = JSON.parse(readFileSync(join(CORE, 'package.json'), 'utf8')) as { version: string };
const HOST = `linux-${process.arch}-gnu`;
const BUILT = join(CORE, `mmsb.${HOST}.node`);
const projects: string[] = [];

/** A project holding @mmsb/core-native's loader (no addon) and, optionally, a platform package. */
function project(platform?: { name: string; version: string; addon?: Buffer }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mmsb-loader-'));
  projects.push(dir);
  const core = join(dir, 'node_modules', '@mmsb', 'core-native');
  mkdirSync(core, { recursive: true });
  for (const file of ['index.js', 'platform.js', 'package.json']) copyFileSync(join(CORE, file), join(core, file));
  if (platform) {
    const pkg = join(dir, 'node_modules', '@mmsb', `core-native-${platform.name}`);
    mkdirSync(pkg, { recursive: true });
    const main = `mmsb.${platform.name}.node`;
    writeFileSync(
      join(pkg, 'package.json'),
      JSON.stringify({ name: `@mmsb/core-native-${platform.name}`, version: platform.version, main }),
    );
    if (platform.addon) writeFileSync(join(pkg, main), platform.addon);
  }
  return core;
}

function importAs(core: string, platform: string, arch: string, env: Record<string, string> = {}): { code: string; message: string } {
  const fake = [
    `Object.defineProperty(process, 'platform', { value: '${platform}' });`,
    `Object.defineProperty(process, 'arch', { value: '${arch}' });`,
  ].join(' ');
  const report = '(e) => console.log(JSON.stringify({ code: e.code, message: e.message }))';
  const loaded = "() => console.log(JSON.stringify({ code: 'LOADED', message: '' }))";
  const script = `${fake} import(${JSON.stringify(join(core, 'index.js'))}).then(${loaded}, ${report});`;
  const env2 = { ...process.env, ...env };
  if (!('MMSB_NATIVE_PATH' in env)) delete env2.MMSB_NATIVE_PATH;
  // pnpm's NODE_PATH would let the copy resolve the workspace's own packages.
  delete env2.NODE_PATH;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: env2 });
  expect(child.status, child.stderr).toBe(0);
  return JSON.parse(child.stdout) as { code: string; message: string };
}

afterEach(() => {
  for (const dir of projects.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('@mmsb/core-native without a usable addon', () => {
  it('names the versioned platform package to install when a published platform has none installed', () => {
    const other = process.arch === 'arm64' ? 'x64' : 'arm64';
    const { code, message } = importAs(project(), 'linux', other);
    expect(code).toBe('NATIVE_UNAVAILABLE');
    expect(message).toContain(`the MMSB native addon for linux-${other}-gnu is missing`);
    expect(message).toContain(`npm install @mmsb/core-native-linux-${other}-gnu@${version}`);
    expect(message).toContain('--omit=optional');
  });

  it('says no addon is published, lists those that are and how to build one, for an unknown Linux', () => {
    const { code, message } = importAs(project(), 'linux', 'riscv64');
    expect(code).toBe('NATIVE_UNAVAILABLE');
    expect(message).toContain('MMSB publishes no native addon for linux-riscv64-gnu');
    expect(message).toContain('prebuilt: linux-x64-gnu, linux-arm64-gnu, linux-x64-musl, linux-arm64-musl');
    expect(message).toContain('MMSB_NATIVE_PATH');
  });

  it('says MMSB runs on Linux only on macOS and Windows', () => {
    expect(importAs(project(), 'darwin', 'arm64').message).toContain('MMSB runs on Linux only');
    expect(importAs(project(), 'win32', 'x64').message).toContain('there is no addon for win32-x64-msvc');
  });

  it('refuses a platform package of another version, naming the one to install', () => {
    const { code, message } = importAs(project({ name: HOST, version: '0.0.9', addon: readFileSync(BUILT) }), 'linux', process.arch);
    expect(code).toBe('NATIVE_UNAVAILABLE');
    expect(message).toContain(`@mmsb/core-native-${HOST} 0.0.9 is installed, but @mmsb/core-native ${version} needs the same version`);
    expect(message).toContain(`npm install @mmsb/core-native-${HOST}@${version}`);
  });

  it('tells an installed platform package without its addon file from a missing package', () => {
    const { code, message } = importAs(project({ name: HOST, version }), 'linux', process.arch);
    expect(code).toBe('NATIVE_UNAVAILABLE');
    expect(message).toContain(`@mmsb/core-native-${HOST} is installed without its addon mmsb.${HOST}.node`);
  });

  it('refuses a truncated addon before the dynamic loader maps it, and a file that is no addon', () => {
    const truncated = importAs(project({ name: HOST, version, addon: readFileSync(BUILT).subarray(0, 4096) }), 'linux', process.arch);
    expect(truncated.code).toBe('NATIVE_UNAVAILABLE');
    expect(truncated.message).toMatch(/is damaged: 4096 bytes, where its headers describe \d+/);
    const garbage = importAs(project({ name: HOST, version, addon: Buffer.from('not an addon') }), 'linux', process.arch);
    expect(garbage.code).toBe('NATIVE_UNAVAILABLE');
    expect(garbage.message).toContain('is present but could not be loaded');
  });

  it('loads the installed platform package of its own version, and MMSB_NATIVE_PATH before it', () => {
    expect(importAs(project({ name: HOST, version, addon: readFileSync(BUILT) }), 'linux', process.arch).code).toBe('LOADED');
    expect(importAs(project(), 'linux', 'riscv64', { MMSB_NATIVE_PATH: BUILT }).code).toBe('LOADED');
    const missing = importAs(project(), 'linux', process.arch, { MMSB_NATIVE_PATH: '/nonexistent/mmsb.node' });
    expect(missing.code).toBe('NATIVE_UNAVAILABLE');
    expect(missing.message).toContain('MMSB_NATIVE_PATH=/nonexistent/mmsb.node: no such file');
  });
});
