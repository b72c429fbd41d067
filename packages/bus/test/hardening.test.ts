// Regressions of a hostile review of the TypeScript layer: each test says
// what broke and why, and failed before its fix.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { afterEach, describe, expect, it, vi } from 'vitest';

import {
  Bus,
  dense,
  ErrorCode,
  MEMORY,
  MmsbError,
  ranges,
  sparse,
  sparseFromBytes,
  type CommitEvent,
  type Delta,
  type DeltaPayload,
} from '../src/index.js';
import { bytes, expectMmsbError, scratchDirectory } from './support.js';

const wrong = (value: unknown) => value as never;
const childScript = fileURLToPath(new URL('./hardening/child.mjs', import.meta.url));

interface ChildResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a scenario of hardening/child.mjs in its own process, so that a native crash is a result, not the end of vitest. */
function runChild(mode: 'race' | 'alias', directory: string): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [childScript, mode, directory], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

interface Outcome {
  readonly live: string;
  readonly recovered: string;
  readonly applied: number;
  readonly refused: Record<string, number>;
}

/** The child's JSON line, after checking that it lived to print it. */
function outcomeOf(result: ChildResult): Outcome {
  const crash = `the child exited with code ${result.code}, signal ${result.signal}:\n${result.stderr.slice(0, 2000)}`;
  expect(result.signal, crash).toBeNull();
  expect(result.code, crash).toBe(0);
  return JSON.parse(result.stdout.trim()) as Outcome;
}

type Growable = SharedArrayBuffer & { grow(length: number): void };
const growableBuffer = (length: number, maxByteLength: number): Growable =>
  new (SharedArrayBuffer as unknown as new (length: number, options: { maxByteLength: number }) => Growable)(length, { maxByteLength });

describe('read-once of caller buffers', () => {
  it('survives workers rewriting shared masks and payloads during applies, and logs what it applies', async () => {
    // Before: dense and sparse payloads crossed to Rust borrowed, and the core reads them
    // more than once (validate, log, apply). A mask another thread filled after validation made the
    // sparse kernel read past the packed bytes (a panic that aborts; SIGSEGV with AVX-512),
    // and a dense payload changed between logging and applying left a live state that
    // recovery does not reproduce.
    const outcome = outcomeOf(await runChild('race', scratchDirectory('hardening-race')));
    expect(outcome.live, 'the live state hash equals the hash after close and reopen').toBe(outcome.recovered);
    expect(outcome.applied).toBeGreaterThan(100);
    const expectedRefusals: string[] = [ErrorCode.DELTA_SIZE_MISMATCH];
    expect(Object.keys(outcome.refused).filter((code) => !expectedRefusals.includes(code))).toEqual([]);
  }, 60_000);

  it('copies payload bytes that are a live view of the page they write', async () => {
    // Before: a sparse delta whose packed bytes or mask were `bus.view(page)` of the page being
    // written was borrowed by the core while it wrote the page: the bytes it logged were not
    // the bytes it applied (recovery gave another state), and a mask that the scatter itself
    // rewrote made it read past the packed bytes and abort the process.
    const outcome = outcomeOf(await runChild('alias', scratchDirectory('hardening-alias')));
    expect(outcome.refused).toEqual({});
    expect(outcome.applied).toBe(5);
    expect(outcome.live, 'the live state hash equals the hash after close and reopen').toBe(outcome.recovered);
  }, 60_000);

  it('checks and writes the same read of each delta property: getters and a growing shared buffer cannot split them', async () => {
    // Before: `apply` checked `payload.bytes` (or `mask`) and then handed napi a second read of
    // it, so a getter answering differently got a delta refused that passed the checks; and the
    // batch encoder sized its buffer from one read of each array's length and copied with
    // another, so shared memory grown in between (here by a later delta's getter) made it
    // throw a RangeError, an untyped error.
    const bus = Bus.memory();
    const page = await bus.createPage({ size: 8 });
    const shifting = <T>(first: T, later: T) => {
      let reads = 0;
      return () => (reads++ === 0 ? first : later);
    };
    const denseBytes = shifting(bytes(8, 1), bytes(100, 2));
    await bus.apply({
      pageId: page,
      payload: {
        kind: 'dense',
        get bytes() {
          return denseBytes();
        },
      },
    });
    expect(bus.read(page)).toEqual(bytes(8, 1));
    const mask = shifting(Uint8Array.of(0b11), bytes(100));
    await bus.apply({
      pageId: page,
      payload: {
        kind: 'sparse',
        bytes: Uint8Array.of(7, 7),
        get mask() {
          return mask();
        },
      },
    });
    expect(bus.read(page)).toEqual(Uint8Array.of(7, 7, 1, 1, 1, 1, 1, 1));
    // The encoder sizes its buffer from a first read and checks and writes a second one: the
    // getter's second answer is what is checked, and refused with a typed error.
    const batchBytes = shifting(bytes(8, 3), bytes(100, 4));
    const hash = bus.stateHash();
    const shiftingDelta: Delta = {
      pageId: page,
      payload: {
        kind: 'dense',
        get bytes() {
          return batchBytes();
        },
      },
    };
    await expectMmsbError(() => bus.applyBatch([shiftingDelta]), ErrorCode.DELTA_SIZE_MISMATCH);
    expect(bus.stateHash()).toBe(hash);
    const shrinking = shifting(bytes(100, 3), bytes(8, 3));
    await bus.applyBatch([
      {
        pageId: page,
        payload: {
          kind: 'dense',
          get bytes() {
            return shrinking();
          },
        },
      },
    ]);
    expect(bus.read(page)).toEqual(bytes(8, 3));
    // A later delta's getter grows the shared buffers under the first deltas' bytes.
    const growable = growableBuffer(8, 1024);
    const grown = new Uint8Array(growable).fill(5);
    const grower: Delta = {
      get pageId() {
        growable.grow(1024);
        return page;
      },
      payload: ranges([{ offset: 7, bytes: Uint8Array.of(6) }]),
    };
    await bus.applyBatch([{ pageId: page, payload: dense(grown) }, grower]);
    expect(bus.read(page)).toEqual(Uint8Array.of(5, 5, 5, 5, 5, 5, 5, 6));
    expect(bus.page(page).epoch).toBe(5);
  });
});

describe('the batch encoding buffer a bus reuses', () => {
  it('keeps each batch its own bytes: batches of growing and shrinking sizes, and a batch a getter applies mid-encoding', async () => {
    // A bus encodes its batches into one reused buffer. A delta's getter that applies a batch
    // of its own runs while the outer batch is half written: sharing the buffer, the inner
    // batch would overwrite the outer one's first deltas and count.
    const bus = Bus.memory();
    const pages = await bus.createPages(6, { size: 4096 });
    const batch = (count: number, fill: number): Delta[] =>
      pages.slice(0, count).map((pageId, index) => ({ pageId, payload: dense(bytes(4096, fill + index)) }));
    for (const [count, fill] of [
      [2, 10],
      [6, 20],
      [1, 30],
      [4, 40],
    ] as const) {
      await bus.applyBatch(batch(count, fill));
      pages.slice(0, count).forEach((page, index) => expect(bus.read(page)).toEqual(bytes(4096, fill + index)));
    }
    let inner: Promise<number> | undefined;
    let reads = 0;
    const outer: Delta[] = [
      { pageId: pages[0]!, payload: dense(bytes(4096, 1)) },
      {
        pageId: pages[1]!,
        // The first read sizes the buffer; the second, as the delta is written, applies the inner batch.
        get payload() {
          if (reads++ === 1) {
            inner = bus.applyBatch([
              { pageId: pages[4]!, payload: dense(bytes(4096, 7)) },
              { pageId: pages[5]!, payload: dense(bytes(4096, 8)) },
            ]);
          }
          return dense(bytes(4096, 2));
        },
      },
      { pageId: pages[2]!, payload: dense(bytes(4096, 3)) },
    ];
    await bus.applyBatch(outer);
    expect(await inner).toBe(2);
    expect([0, 1, 2, 4, 5].map((index) => bus.read(pages[index]!)[0])).toEqual([1, 2, 3, 7, 8]);
  });
});

describe('commit listeners', () => {
  afterEach(() => vi.restoreAllMocks());

  /** A bus with a page whose derived page is its bytes plus one. */
  async function derivedPair(onBackgroundError?: (error: MmsbError) => void) {
    const bus = await Bus.open(MEMORY, onBackgroundError === undefined ? {} : { onBackgroundError });
    const source = await bus.createPage({ size: 4 });
    const derived = await bus.createPage({ size: 4 });
    await bus.addEdge(source, derived);
    bus.recompute(derived, ([parent]) => parent!.map((byte) => byte + 1));
    return { bus, source, derived };
  }

  it('a throwing listener neither fails the write nor skips the wave; its error goes to onBackgroundError', async () => {
    // Before: `emit` let a listener's throw escape into `apply`, which rejected with the raw
    // Error after the delta was kept, and the wave that follows the commit never ran, so the
    // derived page stayed stale for good. onBackgroundError was ignored on in-memory buses.
    const reported: MmsbError[] = [];
    const { bus, source, derived } = await derivedPair((error) => reported.push(error));
    const seen: CommitEvent[] = [];
    const bug = new Error('listener bug');
    bus.onCommit(() => {
      throw bug;
    });
    bus.onCommit((event) => seen.push(event));
    await expect(bus.apply({ pageId: source, payload: dense(bytes(4, 7)) })).resolves.toMatchObject({ epoch: 1 });
    expect(bus.read(derived)).toEqual(bytes(4, 8));
    await expect(bus.applyBatch([{ pageId: source, payload: dense(bytes(4, 9)) }])).resolves.toBe(1);
    expect(bus.read(derived)).toEqual(bytes(4, 10));
    expect(seen.map((event) => event.source)).toEqual(['user', 'propagation', 'user', 'propagation']);
    expect(reported).toHaveLength(4);
    for (const error of reported) {
      expect(error).toBeInstanceOf(MmsbError);
      expect(error.code).toBe(ErrorCode.LISTENER_FAILED);
      expect(error.cause).toBe(bug);
    }
  });

  it('a rejecting async listener and a throwing onBackgroundError are reported too, never thrown', async () => {
    // Before: an async listener's rejection was unhandled (Node's default ends the process on
    // one), and a handler that throws would have failed the write like the listener did.
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const reported: MmsbError[] = [];
    const { bus, source, derived } = await derivedPair((error) => {
      reported.push(error);
      throw new Error('handler bug');
    });
    bus.onCommit(async () => {
      throw new Error('async listener bug');
    });
    await bus.apply({ pageId: source, payload: dense(bytes(4, 1)) });
    await new Promise((resolve) => setImmediate(resolve));
    expect(bus.read(derived)).toEqual(bytes(4, 2));
    expect(reported.map((error) => [error.code, (error.cause as Error).message])).toEqual([
      [ErrorCode.LISTENER_FAILED, 'async listener bug'],
      [ErrorCode.LISTENER_FAILED, 'async listener bug'],
    ]);
    expect(warnings.mock.calls.map(([warning]) => (warning as Error).message)).toEqual(['handler bug', 'handler bug']);
  });

  it('without onBackgroundError a listener error becomes a process warning', async () => {
    // Before: with no handler (and on every in-memory bus) background failures were dropped.
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const { bus, source } = await derivedPair();
    bus.onCommit(() => {
      throw new TypeError('oops');
    });
    await bus.apply({ pageId: source, payload: dense(bytes(4, 1)) });
    expect(warnings).toHaveBeenCalledTimes(2);
    const warning = warnings.mock.calls[0]![0] as MmsbError;
    expect(warning).toBeInstanceOf(MmsbError);
    expect(warning.code).toBe(ErrorCode.LISTENER_FAILED);
    expect(warning.message).toContain('oops');
  });
});

describe('smaller findings', () => {
  it('refuses an empty directory string instead of opening the current directory', async () => {
    // Before: Bus.open('') reached the core, which opened (and locked, and wrote a log into)
    // the process's working directory.
    const before = process.cwd();
    process.chdir(scratchDirectory('hardening-cwd'));
    try {
      const error = await expectMmsbError(() => Bus.open(''), ErrorCode.INVALID_ARGUMENT);
      expect(error.message).toMatch(/directory/);
    } finally {
      process.chdir(before);
    }
  });

  it('refuses sources named after Object.prototype members with a clear INVALID_ARGUMENT', async () => {
    // Before: `sourceCode` indexed a plain object, so '__proto__', 'toString' and
    // 'constructor' found inherited members: dense and sparse applies sent them to napi,
    // whose conversion error leaked, and ranges and batches said only "delta 0 is malformed".
    const bus = Bus.memory();
    const page = await bus.createPage({ size: 8 });
    const hash = bus.stateHash();
    const payloads: DeltaPayload[] = [dense(bytes(8)), sparse(bytes(1), bytes(0)), ranges([{ offset: 0, bytes: bytes(1) }])];
    for (const source of ['__proto__', 'toString', 'constructor', 'hasOwnProperty', Object.create(null)]) {
      for (const payload of payloads) {
        const delta: Delta = { pageId: page, payload, source: wrong(source) };
        for (const call of [() => bus.apply(delta), () => bus.applyBatch([delta])]) {
          const error = await expectMmsbError(call, ErrorCode.INVALID_ARGUMENT);
          expect(error.message).toMatch(/source must be "user", "propagation" or "bridge"/);
        }
      }
    }
    expect(bus.stateHash()).toBe(hash);
  });

  it('sparseFromBytes refuses bytes that are not integers 0..255, naming offset and value', async () => {
    // Before: the packed bytes were stored into a Uint8Array, which wraps and truncates
    // silently: 256 became 0, -1 became 255, 3.9 became 3.
    for (const [byte, shown] of [
      [256, '256'],
      [-1, '-1'],
      [3.9, '3.9'],
      [Number.NaN, 'NaN'],
      ['7', '"7"'],
    ] as const) {
      const error = await expectMmsbError(
        () =>
          sparseFromBytes(16, [
            [0, 1],
            [9, wrong(byte)],
          ]),
        ErrorCode.INVALID_ARGUMENT,
      );
      expect(error.message).toContain('offset 9');
      expect(error.message).toContain(shown);
    }
    // Not iterable, or a write that is not a pair: a TypeError from destructuring before.
    await expectMmsbError(() => sparseFromBytes(16, wrong(5)), ErrorCode.INVALID_ARGUMENT);
    await expectMmsbError(() => sparseFromBytes(16, wrong([7])), ErrorCode.INVALID_ARGUMENT);
    expect(
      sparseFromBytes(16, [
        [9, 255],
        [0, 0],
      ]),
    ).toEqual(sparse(Uint8Array.of(1, 2), Uint8Array.of(0, 255)));
  });

  it('refuses metadata keys and strings that are not well-formed UTF-16', async () => {
    // Before: a lone surrogate has no UTF-8 encoding; napi and msgpack wrote U+FFFD instead,
    // so the keys '\uD800' and '\uDBFF' became one key, and string values changed silently.
    const bus = Bus.memory();
    const page = await bus.createPage({ size: 4 });
    const hash = bus.stateHash();
    const lone = ['\uD800', 'a\uDBFFb', '\uDC00', 'x\uDFFF'];
    for (const key of lone) {
      await expectMmsbError(() => bus.createPage({ size: 4, metadata: { [key]: 1 } }), ErrorCode.METADATA_INVALID);
      await expectMmsbError(() => bus.setMetadata(page, key, 1), ErrorCode.METADATA_INVALID);
      await expectMmsbError(() => bus.setMetadata(page, key, undefined), ErrorCode.METADATA_INVALID);
    }
    for (const value of [lone[0], ['ok', lone[1]], { nested: { [lone[2]!]: 1 } }, new Map([['k', lone[3]]])]) {
      await expectMmsbError(() => bus.createPage({ size: 4, metadata: { name: value } }), ErrorCode.METADATA_INVALID);
      await expectMmsbError(() => bus.setMetadata(page, 'name', value), ErrorCode.METADATA_INVALID);
    }
    expect(bus.stateHash()).toBe(hash);
    // A surrogate pair is one well-formed code point, and round-trips.
    await bus.setMetadata(page, 'emoji \u{1F600}', ['\u{1F600}', { '\u{1F600}': '\uFFFD' }]);
    expect(bus.metadata(page)).toEqual({ 'emoji \u{1F600}': ['\u{1F600}', { '\u{1F600}': '\uFFFD' }] });
  });

  it('applyBatch([]) writes nothing; a non-array is INVALID_ARGUMENT', async () => {
    // Before: an empty batch crossed to the core, which logged a record for it and took an LSN.
    const directory = scratchDirectory('hardening-empty');
    const bus = await Bus.open(directory, { fsync: 'never' });
    await bus.createPage({ size: 4 });
    const lsn = bus.lsn;
    await expect(bus.applyBatch([])).resolves.toBe(0);
    expect(bus.lsn).toBe(lsn);
    for (const notArray of [{ length: 0 }, null, 'abc', undefined]) {
      await expectMmsbError(() => bus.applyBatch(wrong(notArray)), ErrorCode.INVALID_ARGUMENT);
    }
    await bus.close();
    const reopened = await Bus.open(directory, { fsync: 'never' });
    expect(reopened.lsn).toBe(lsn);
    await reopened.close();
  });
});
