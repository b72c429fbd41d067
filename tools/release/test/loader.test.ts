// The addon loader on machines it has no addon for: a child node whose
// process.platform/arch are faked before @mmsb/core-native is imported.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { ROOT } from '../workspace.mjs';

const CORE = join(ROOT, 'packages', 'core-native', 'index.js');

function importAs(platform: string, arch: string, env: Record<string, string> = {}): { code: string; message: string } {
  const fake = [
    `Object.defineProperty(process, 'platform', { value: '${platform}' });`,
    `Object.defineProperty(process, 'arch', { value: '${arch}' });`,
  ].join(' ');
  const report = '(e) => console.log(JSON.stringify({ code: e.code, message: e.message }))';
  const loaded = "() => console.log(JSON.stringify({ code: 'LOADED', message: '' }))";
  const script = `${fake} import(${JSON.stringify(CORE)}).then(${loaded}, ${report});`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...env } });
  expect(child.status).toBe(0);
  return JSON.parse(child.stdout) as { code: string; message: string };
}

describe('@mmsb/core-native on a platform without an addon', () => {
  it('names the platform package to install when the platform is published but its package is missing', () => {
    const { code, message } = importAs('linux', 'arm64');
    expect(code).toBe('NATIVE_UNAVAILABLE');
    expect(message).toContain('the MMSB native addon for linux-arm64-gnu is missing: install @mmsb/core-native-linux-arm64-gnu');
    expect(message).toContain('npm install @mmsb/core-native-linux-arm64-gnu');
    expect(message).toContain('--omit=optional');
  });

  it('says no addon is published, and lists those that are, for an unknown platform', () => {
    const { code, message } = importAs('linux', 'riscv64');
    expect(code).toBe('NATIVE_UNAVAILABLE');
    expect(message).toContain('MMSB publishes no native addon for linux-riscv64-gnu');
    expect(message).toContain('linux-x64-gnu, linux-arm64-gnu, linux-x64-musl, linux-arm64-musl');
    expect(message).toContain('build the addon from source');
  });

  it('names the platform for macOS and Windows too', () => {
    expect(importAs('darwin', 'arm64').message).toContain('no native addon for darwin-arm64');
    expect(importAs('win32', 'x64').message).toContain('no native addon for win32-x64-msvc');
  });

  it('reports an explicit MMSB_NATIVE_PATH that does not load, without falling back', () => {
    const { code, message } = importAs('linux', 'x64', { MMSB_NATIVE_PATH: '/nonexistent/mmsb.node' });
    expect(code).toBe('NATIVE_UNAVAILABLE');
    expect(message).toContain('MMSB_NATIVE_PATH=/nonexistent/mmsb.node');
  });

  it('loads on this machine', () => {
    expect(importAs(process.platform, process.arch).code).toBe('LOADED');
  });
});
