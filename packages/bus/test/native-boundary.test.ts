// The TypeScript and Rust sides agree on error codes, and a missing addon is
// a clear NATIVE_UNAVAILABLE error rather than a crash.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { native } from '@mmsb/core-native';

import { call } from '../src/native.js';
import { sourceCodes } from '../src/delta-encoding.js';
import { BUILTIN_TRANSFORMS, EDGE_KINDS, LOCATIONS, PAGE_MEMORIES } from '../src/names.js';
import { Bus, ErrorCode, MmsbError, type DeltaSource, type RecoveryMode } from '../src/index.js';

describe('native boundary', () => {
  it('every core error code exists in TypeScript with the same spelling', () => {
    const tsOnly = [
      ErrorCode.NATIVE_UNAVAILABLE,
      ErrorCode.BUS_CLOSED,
      ErrorCode.RECOMPUTE_FAILED,
      ErrorCode.EVENTS_OVERFLOW,
      ErrorCode.LISTENER_FAILED,
      ErrorCode.INTERNAL,
      ErrorCode.MALFORMED_REQUEST,
      ErrorCode.PROTOCOL_VERSION,
      ErrorCode.UNKNOWN_OPERATION,
      ErrorCode.MESSAGE_TOO_LARGE,
      ErrorCode.BATCH_TOO_LARGE,
      ErrorCode.SESSION_UNKNOWN,
      ErrorCode.HANDLE_UNKNOWN,
      ErrorCode.HANDLE_FOREIGN,
      ErrorCode.ID_UNREPRESENTABLE,
      ErrorCode.SHM_INVALID,
      ErrorCode.BRIDGE_TIMEOUT,
    ];
    expect(native.errorCodes()).toEqual(Object.values(ErrorCode).filter((code) => !tsOnly.includes(code as never)));
  });

  it("the names the bus accepts are the core's, in the core's order", () => {
    const names = native.names();
    expect(names.locations).toEqual(LOCATIONS);
    expect(names.memories).toEqual(PAGE_MEMORIES);
    expect(names.edgeKinds).toEqual(EDGE_KINDS);
    expect(names.transforms).toEqual(BUILTIN_TRANSFORMS);
    expect(names.sources).toEqual(Object.keys(sourceCodes));
    expect(names.sources.map((name) => sourceCodes[name as DeltaSource])).toEqual([0, 1, 2]);
    expect(names.recoveryModes).toEqual(['salvage-tail', 'strict'] satisfies RecoveryMode[]);
    const { histograms, propagation: _, ...counters } = Bus.memory().stats();
    expect(names.counters).toEqual(Object.keys(counters));
    expect(names.histograms.map(({ name }) => name)).toEqual(Object.keys(histograms));
  });

  // Before: an error napi raised itself (an argument of a type the bus should
  // have refused) was reported as the caller's INVALID_ARGUMENT.
  it('an error that is not a core error surfaces as INTERNAL, with the original as cause', () => {
    const state = new native.NativeState();
    let thrown: unknown;
    try {
      call(() => state.pageInfo('not a number' as never));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(MmsbError);
    expect((thrown as MmsbError).code).toBe(ErrorCode.INTERNAL);
    expect((thrown as MmsbError).cause).toBeInstanceOf(Error);
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
