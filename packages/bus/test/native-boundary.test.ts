// The TypeScript and Rust sides agree on error codes, and a missing addon is
// a clear NATIVE_UNAVAILABLE error rather than a crash.
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { native } from '@mmsb/core-native';

import { call } from '../src/native.js';
import { encodeDeltas, sourceCodes } from '../src/delta-encoding.js';
import { scratchDirectory } from './support.js';
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

describe('direct calls (the single applies without napi-rs class machinery)', () => {
  const codeOf = (run: () => unknown): string => {
    try {
      run();
    } catch (error) {
      return (error as { code?: string }).code ?? `untyped: ${String(error)}`;
    }
    return 'no error';
  };

  it('refuse hostile arguments with typed errors and change nothing', () => {
    const state = new native.NativeState();
    const page = state.createPage(8, 'cpu', [], [], undefined);
    const direct = native.directCalls(state);
    const hash = state.stateHash();
    const eight = new Uint8Array(8).fill(1);
    const hostile: [string, () => unknown, string][] = [
      ['no arguments', () => (direct.applyDense as () => number)(), ErrorCode.INVALID_ARGUMENT],
      ['a string id', () => direct.applyDense('1' as never, eight, null, 0), ErrorCode.INVALID_ARGUMENT],
      ['a NaN id', () => direct.applyDense(Number.NaN, eight, null, 0), ErrorCode.INVALID_ARGUMENT],
      ['a negative id', () => direct.applyDense(-1, eight, null, 0), ErrorCode.INVALID_ARGUMENT],
      ['an id past 2^53', () => direct.applyDense(2 ** 60, eight, null, 0), ErrorCode.INVALID_ARGUMENT],
      ['an array of numbers', () => direct.applyDense(page, [1, 2] as never, null, 0), ErrorCode.INVALID_ARGUMENT],
      ['a Float64Array', () => direct.applyDense(page, new Float64Array(1) as never, null, 0), ErrorCode.INVALID_ARGUMENT],
      ['a Uint8ClampedArray', () => direct.applyDense(page, new Uint8ClampedArray(8) as never, null, 0), ErrorCode.INVALID_ARGUMENT],
      ['a fractional expectEpoch', () => direct.applyDense(page, eight, 0.5, 0), ErrorCode.INVALID_ARGUMENT],
      ['a string expectEpoch', () => direct.applyDense(page, eight, '0' as never, 0), ErrorCode.INVALID_ARGUMENT],
      ['an unknown source', () => direct.applyDense(page, eight, null, 99), ErrorCode.INVALID_ARGUMENT],
      ['a missing source', () => (direct.applyDense as (...args: unknown[]) => number)(page, eight, null), ErrorCode.INVALID_ARGUMENT],
      // Before: napi_get_value_uint32 read these as source 0 (user) and applied them.
      ['a fractional source', () => direct.applyDense(page, eight, null, 0.9), ErrorCode.INVALID_ARGUMENT],
      ['a NaN source', () => direct.applyDense(page, eight, null, Number.NaN), ErrorCode.INVALID_ARGUMENT],
      ['a source of 2^32', () => direct.applyDense(page, eight, null, 2 ** 32), ErrorCode.INVALID_ARGUMENT],
      ['a wrong size', () => direct.applyDense(page, new Uint8Array(9), null, 0), ErrorCode.DELTA_SIZE_MISMATCH],
      ['a stale epoch', () => direct.applyDense(page, eight, 7, 0), ErrorCode.EPOCH_CONFLICT],
      ['an unknown page', () => direct.applyDense(page + 1, eight, null, 0), ErrorCode.PAGE_NOT_FOUND],
      ['a short mask', () => direct.applySparse(page, new Uint8Array(0), eight, null, 0), ErrorCode.DELTA_SIZE_MISMATCH],
      ['a mask of the wrong type', () => direct.applySparse(page, {} as never, eight, null, 0), ErrorCode.INVALID_ARGUMENT],
    ];
    const refused = Object.fromEntries(hostile.map(([name, run]) => [name, codeOf(run)]));
    expect(refused).toEqual(Object.fromEntries(hostile.map(([name, , code]) => [name, code])));
    expect(state.stateHash()).toBe(hash);
    expect(codeOf(() => native.directCalls({} as never))).not.toBe('no error');
  });

  it('refuse wave memory that is shared, short or not bytes, and roots that are not a Float64Array', () => {
    const state = new native.NativeState();
    const page = state.createPage(8, 'cpu', [], [], undefined);
    const direct = native.directCalls(state);
    const roots = Float64Array.of(page);
    const memory = new Uint8Array(64);
    const hostile: [string, () => unknown][] = [
      ['shared memory', () => direct.beginWave(roots, new Uint8Array(new SharedArrayBuffer(64)), 10, false)],
      ['memory shorter than its header', () => direct.beginWave(roots, new Uint8Array(15), 10, false)],
      ['memory of doubles', () => direct.beginWave(roots, new Float64Array(8) as never, 10, false)],
      ['roots as an array', () => direct.beginWave([page] as never, memory, 10, false)],
      ['roots as bytes', () => direct.beginWave(Uint8Array.of(page) as never, memory, 10, false)],
      ['a fractional root', () => direct.beginWave(Float64Array.of(0.5), memory, 10, false)],
      ['a negative wave limit', () => direct.beginWave(roots, memory, -1, false)],
      ['listPages as a number', () => direct.beginWave(roots, memory, 10, 1 as never)],
      ['resume with shared memory', () => direct.resumeWave(new Uint8Array(new SharedArrayBuffer(64)))],
      ['resume with nothing', () => (direct.resumeWave as () => unknown)()],
    ];
    expect(Object.fromEntries(hostile.map(([name, run]) => [name, codeOf(run)]))).toEqual(
      Object.fromEntries(hostile.map(([name]) => [name, ErrorCode.INVALID_ARGUMENT])),
    );
    expect(direct.beginWave(roots, memory, 10, true)).toBe(-1);
  });

  // Before: a payload was copied only when it was shared memory or its page had a view. The
  // counters (which the apply itself writes: the LSN, before the page) and a shared mapping of
  // a mapped page's file (which the apply writes too, at another address) were borrowed, so the
  // bytes logged were not the bytes applied and recovery gave another state.
  it('copy payload bytes in memory the addon exports and the apply writes: logged and applied bytes are the same', () => {
    const directory = scratchDirectory('direct-exported');
    let state = native.NativeState.open(directory, {});
    const counters = state.counters();
    const page = state.createPage(64, 'cpu', [], [], undefined);
    const mapped = state.createPage(16, 'cpu', [], [], 'mapped');
    const direct = native.directCalls(state);
    direct.applyDense(page, new Uint8Array(counters.buffer, counters.byteOffset, 64), null, 0);
    // Mask at bytes 0-1 and packed bytes at 2-9 of the mapped page select its bytes 3-10:
    // scattering them shifts the packed bytes under the scatter.
    direct.applyDense(
      mapped,
      Uint8Array.from({ length: 16 }, (_, index) => [0b1111_1000, 0b111][index] ?? index),
      null,
      0,
    );
    const mapping = native.mapSharedFile(state.mappedPath(mapped)!, false);
    direct.applySparse(mapped, mapping.subarray(0, 2), mapping.subarray(2, 10), null, 0);
    expect(Array.from(state.read(mapped, 3, 8))).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    const live = state.stateHash();
    state.close();
    state = native.NativeState.open(directory, {});
    expect(state.stateHash(), 'the state recovery rebuilds').toBe(live);
    state.close();
  });

  // Before: wave memory was refused only when shared. A page's view (of this state or another)
  // or the counters were accepted, and the wave wrote its header, flags and staged outputs
  // into them: a page changed without a delta (recovery gave another state), or the LSN the
  // bus reads was overwritten.
  it('refuse wave memory that the addon exported (a page view, the counters) and change nothing', () => {
    const state = new native.NativeState();
    const root = state.createPage(16, 'cpu', [], [], undefined);
    const child = state.createPage(16, 'cpu', [], [], undefined);
    const other = state.createPage(4096, 'cpu', [], [], 'arena');
    state.addEdge(root, child, 'data');
    state.setRecompute(child, 'script');
    const direct = native.directCalls(state);
    const view = state.view(other);
    const counters = state.counters();
    const stranger = new native.NativeState();
    const strangerView = stranger.view(stranger.createPage(4096, 'cpu', [], [], undefined));
    const hashes = [state.stateHash(), stranger.stateHash()];
    const countersBefore = counters.slice();
    const roots = Float64Array.of(root);
    const exported: [string, Uint8Array][] = [
      ['a page view', view],
      ['part of a page view', view.subarray(1000, 2000)],
      ['a page view of another state', strangerView],
      ['the counters', new Uint8Array(counters.buffer)],
    ];
    const refused = Object.fromEntries(exported.map(([name, memory]) => [name, codeOf(() => direct.beginWave(roots, memory, 10, false))]));
    expect(refused).toEqual(Object.fromEntries(exported.map(([name]) => [name, ErrorCode.INVALID_ARGUMENT])));
    expect(codeOf(() => direct.resumeWave(view))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect([state.stateHash(), stranger.stateHash()]).toEqual(hashes);
    expect(view.every((byte) => byte === 0) && strangerView.every((byte) => byte === 0)).toBe(true);
    expect(counters).toEqual(countersBefore);
    // Memory of its own still runs the wave.
    expect(direct.beginWave(roots, new Uint8Array(64), 10, false)).toBe(0);
  });

  it('apply bytes in shared memory, and keep their state alive after everything else lets it go', () => {
    const entry = fileURLToPath(new URL('../../core-native/index.js', import.meta.url));
    const script = `
      const { native } = await import(${JSON.stringify(entry)});
      let state = new native.NativeState();
      const page = state.createPage(4, 'cpu', [], [], undefined);
      const direct = native.directCalls(state);
      state = undefined;
      for (let round = 0; round < 5; round++) { globalThis.gc(); await new Promise((done) => setTimeout(done, 5)); }
      const shared = new Uint8Array(new SharedArrayBuffer(4));
      shared.set([1, 2, 3, 4]);
      const epochs = [direct.applyDense(page, shared, null, 0), direct.applySparse(page, Uint8Array.of(0b1001), Uint8Array.of(9, 9), 1, 0)];
      console.log(JSON.stringify(epochs));
    `;
    const output = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(JSON.parse(output)).toEqual([1, 2]);
  });
});

describe('encoded applies (ranges and batches) of the raw addon', () => {
  /** Where two encodings of equal length first differ. */
  const firstDifference = (one: Uint8Array, other: Uint8Array) => one.findIndex((byte, index) => byte !== other[index]);

  // Before: applyBatch and applyEncodedOne borrowed the encoding whatever memory it was in. A
  // batch held in a page's view whose first delta rewrote the second delta's mask (checked
  // already) made the sparse scatter read past its packed bytes: the process aborted. A sparse
  // delta held in the view of the page it writes shifted its own packed bytes as it scattered
  // them: the bytes applied were not the bytes logged, and recovery rebuilt another state.
  it('copy an encoding held in memory the apply writes, and apply what they log', () => {
    const entry = fileURLToPath(new URL('../../core-native/index.js', import.meta.url));
    const [holder, target] = [1, 2];
    const batch = (maskAt: number, mask: Uint8Array, packed: Uint8Array) =>
      encodeDeltas([
        { pageId: holder, payload: { kind: 'ranges', ranges: [{ offset: maskAt, bytes: new Uint8Array(32).fill(0xff) }] } },
        { pageId: target, payload: { kind: 'sparse', mask, bytes: packed } },
      ]).bytes;
    const maskAt = firstDifference(
      batch(0, new Uint8Array(32), new Uint8Array(0)),
      batch(0, Uint8Array.of(1, ...new Uint8Array(31)), Uint8Array.of(1)),
    );
    const rewritingBatch = batch(maskAt, new Uint8Array(32), new Uint8Array(0));
    // One sparse delta of the holder page whose mask selects the bytes just after its packed bytes.
    const single = (mask: Uint8Array, packed: Uint8Array) =>
      encodeDeltas([{ pageId: holder, payload: { kind: 'sparse', mask, bytes: packed } }]).bytes;
    const packedAt = firstDifference(
      single(Uint8Array.of(0xff, ...new Uint8Array(511)), new Uint8Array(8)),
      single(Uint8Array.of(0xff, ...new Uint8Array(511)), new Uint8Array(8).fill(1)),
    );
    const shifting = new Uint8Array(512);
    for (let at = packedAt + 1; at <= packedAt + 8; at++) shifting[at >> 3]! |= 1 << (at & 7);
    const shiftingDelta = single(shifting, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    const script = `
      const { native } = await import(${JSON.stringify(entry)});
      const directory = ${JSON.stringify(scratchDirectory('encoded-held'))};
      let state = native.NativeState.open(directory, {});
      const holder = state.createPage(4096, 'cpu', [], [], undefined);
      state.createPage(256, 'cpu', [], [], undefined);
      const direct = native.directCalls(state);
      const view = state.view(holder);
      const hold = (encoding) => {
        const held = new Uint8Array(4096);
        held.set(encoding);
        direct.applyDense(holder, held, null, 0);
        return view.subarray(0, encoding.length);
      };
      const applied = [
        state.applyBatch(hold(Uint8Array.from(${JSON.stringify(Array.from(rewritingBatch))}))),
        state.applyEncodedOne(hold(Uint8Array.from(${JSON.stringify(Array.from(shiftingDelta))}))),
      ];
      const shifted = Array.from(view.subarray(${packedAt + 1}, ${packedAt + 9}));
      const live = state.stateHash();
      state.close();
      state = native.NativeState.open(directory, {});
      console.log(JSON.stringify({ applied, shifted, recovered: state.stateHash() === live }));
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(child.status, child.stderr.slice(0, 2000)).toBe(0);
    expect(JSON.parse(child.stdout)).toEqual({ applied: [2, 4], shifted: [1, 2, 3, 4, 5, 6, 7, 8], recovered: true });
  });
});

describe('argument conversion of the raw addon', () => {
  // Before: createPage borrowed each metadata value as napi-rs converted it, and converting a
  // later value may run a getter: one that took an earlier value's buffer away (a transfer)
  // left the core reading memory the caller had since rewritten, or, once collected, freed
  // memory (AddressSanitizer: heap-use-after-free in msgpack::validate_single_value).
  it('createPage keeps each metadata value as it was when converted, whatever a later getter does', () => {
    const state = new native.NativeState();
    const hello = Uint8Array.of(0xa5, ...new TextEncoder().encode('hello'));
    let first: Uint8Array<ArrayBuffer> | undefined = hello.slice();
    const values: Uint8Array[] = [first];
    const takeFirst = () => {
      const taken = new Uint8Array(structuredClone(first!.buffer, { transfer: [first!.buffer] }));
      taken.set(new TextEncoder().encode('j'), 1);
      first = undefined;
    };
    Object.defineProperty(values, 1, {
      enumerable: true,
      get: () => {
        takeFirst();
        return Uint8Array.of(0xc0);
      },
    });
    const page = state.createPage(8, 'cpu', ['a', 'b'], values, undefined);
    expect(state.metadata(page).map(({ key, value }) => [key, Array.from(value)])).toEqual([
      ['a', Array.from(hello)],
      ['b', [0xc0]],
    ]);
  });
});
