// The TypeScript and Rust sides agree on error codes, and a missing addon is
// a clear NATIVE_UNAVAILABLE error rather than a crash.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { native } from '@mmsb/core-native';

import { ErrorCode } from '../src/index.js';

describe('native boundary', () => {
  it('every core error code exists in TypeScript with the same spelling', () => {
    const tsOnly = [
      ErrorCode.NATIVE_UNAVAILABLE,
      ErrorCode.BUS_CLOSED,
      ErrorCode.RECOMPUTE_FAILED,
      ErrorCode.EVENTS_OVERFLOW,
      ErrorCode.LISTENER_FAILED,
    ];
    expect(native.errorCodes()).toEqual(Object.values(ErrorCode).filter((code) => !tsOnly.includes(code as never)));
  });

  it('a missing addon gives NATIVE_UNAVAILABLE on first use, naming the path', () => {
    const entry = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    const script = `
      const { Bus } = await import(${JSON.stringify(entry)});
      try { Bus.memory(); console.log('no error'); }
      catch (error) { console.log(JSON.stringify({ name: error.name, code: error.code, message: error.message })); }
    `;
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, MMSB_NATIVE_PATH: '/nonexistent/mmsb.node' },
      encoding: 'utf8',
    });
    const reported = JSON.parse(output) as { name: string; code: string; message: string };
    expect(reported.name).toBe('MmsbError');
    expect(reported.code).toBe('NATIVE_UNAVAILABLE');
    expect(reported.message).toContain('/nonexistent/mmsb.node');
  });
});
