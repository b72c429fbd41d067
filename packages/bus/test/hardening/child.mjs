// The hardening test's child process. It runs one scenario that crashed the
// whole process before its fix (a Rust panic aborts, an out-of-bounds read is
// a SIGSEGV), so that a crash fails a test instead of killing vitest, and
// prints its result as one JSON line: the live state hash, the hash after
// close and reopen, and how many calls were applied and refused (by code).
// A refusal that is not an MmsbError is printed to stderr; the exit code is 3.
//
//   node child.mjs <race|alias> <data directory>
import { register } from 'node:module';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';

register('./ts-loader.mjs', import.meta.url);
const { Bus, MmsbError, dense, ranges, sparse } = await import('../../src/index.ts');

const SIZE = 4096;
const MASK_BYTES = SIZE / 8;
const RACE_MS = 1500;
const RACE_ROUNDS_MAX = 5000;
const PAGES_PER_KIND = 512;

const [mode, directory] = process.argv.slice(2);
const tally = { applied: 0, refused: {} };

async function attempt(call) {
  try {
    await call();
    tally.applied++;
  } catch (error) {
    if (!(error instanceof MmsbError)) {
      process.stderr.write(`a call failed with something other than an MmsbError: ${error?.stack ?? error}\n`);
      process.exit(3);
    }
    tally.refused[error.code] = (tally.refused[error.code] ?? 0) + 1;
  }
}

/** Starts a worker that rewrites `buffers` until `stop` is set; resolves once it runs. */
function startFlipper(stop, buffers) {
  const worker = new Worker(new URL('./flipper.mjs', import.meta.url), { workerData: { stop, buffers } });
  return new Promise((resolve, reject) => {
    worker.once('message', () => resolve(worker));
    worker.once('error', reject);
  });
}

/**
 * Workers rewrite the shared masks and payloads of dense, sparse and ranges
 * deltas while this thread applies them one by one and in batches. Each kind
 * writes its own pages, round-robin, so the final state keeps the last
 * PAGES_PER_KIND applies of each: one whose logged bytes differ from the
 * applied ones shows as a recovered hash unequal to the live one.
 */
async function race(bus) {
  const pagesOf = async () => bus.createPages(PAGES_PER_KIND, { size: SIZE });
  const [densePages, sparsePages, rangesPages, batchPages] = [await pagesOf(), await pagesOf(), await pagesOf(), await pagesOf()];
  const payload = new SharedArrayBuffer(SIZE);
  const emptyOrFull = new SharedArrayBuffer(MASK_BYTES);
  // Another realm's SharedArrayBuffer is not `instanceof SharedArrayBuffer` here.
  const foreignMask = runInNewContext(`new SharedArrayBuffer(${MASK_BYTES})`);
  const halfMask = new SharedArrayBuffer(MASK_BYTES);
  const stop = new SharedArrayBuffer(4);
  const workers = await Promise.all([
    startFlipper(stop, [{ buffer: payload, pattern: 'count' }]),
    startFlipper(stop, [
      { buffer: emptyOrFull, pattern: 'emptyOrFull' },
      { buffer: foreignMask, pattern: 'emptyOrFull' },
      { buffer: halfMask, pattern: 'half' },
    ]),
  ]);
  const bytes = new Uint8Array(payload);
  const denseOf = (pageId) => ({ pageId, payload: dense(bytes) });
  const sparseOf = (pageId) => ({ pageId, payload: sparse(new Uint8Array(halfMask), bytes.subarray(0, SIZE / 2)) });
  const rangesOf = (pageId) => ({
    pageId,
    payload: ranges([
      { offset: 0, bytes: bytes.subarray(0, 100) },
      { offset: 1000, bytes: bytes.subarray(1000, 3000) },
    ]),
  });
  const invalidOf = (pageId, mask) => ({ pageId, payload: sparse(new Uint8Array(mask), new Uint8Array(0)) });
  const deadline = Date.now() + RACE_MS;
  for (let round = 0; round < RACE_ROUNDS_MAX && Date.now() < deadline; round++) {
    const slot = round % PAGES_PER_KIND;
    const batch = [denseOf(batchPages[slot]), sparseOf(batchPages[slot]), rangesOf(batchPages[slot])];
    for (const delta of [invalidOf(sparsePages[slot], emptyOrFull), invalidOf(sparsePages[slot], foreignMask)]) {
      await attempt(() => bus.apply(delta));
    }
    await attempt(() => bus.applyBatch(batch));
    await attempt(() => bus.applyBatch([...batch, invalidOf(batchPages[slot], round & 1 ? emptyOrFull : foreignMask)]));
    for (const delta of [rangesOf(rangesPages[slot]), sparseOf(sparsePages[slot]), denseOf(densePages[slot])]) {
      await attempt(() => bus.apply(delta));
    }
  }
  Atomics.store(new Int32Array(stop), 0, 1);
  await Promise.all(workers.map((worker) => new Promise((resolve) => worker.once('exit', resolve))));
}

/**
 * Payloads that alias the page they write: the packed bytes of a sparse
 * delta, and then its mask, are the live view of the page itself.
 */
async function alias(bus) {
  const page = await bus.createPage({ size: SIZE });
  await attempt(() => bus.apply({ pageId: page, payload: dense(Uint8Array.from({ length: SIZE }, (_, index) => index)) }));
  const firstBytes = new Uint8Array(MASK_BYTES);
  for (let index = 1; index <= 64; index++) firstBytes[index >> 3] |= 1 << (index & 7);
  await attempt(() => bus.apply({ pageId: page, payload: sparse(firstBytes, bus.view(page).subarray(0, 64)) }));
  // Page bytes 0..511 are the mask: byte 1 selects page bytes 8..15, which are mask bytes 8..15.
  const mask = new Uint8Array(MASK_BYTES);
  mask[1] = 0xff;
  await attempt(() => bus.apply({ pageId: page, payload: ranges([{ offset: 0, bytes: mask }]) }));
  await attempt(() => bus.apply({ pageId: page, payload: sparse(bus.view(page).subarray(0, MASK_BYTES), new Uint8Array(8).fill(0xff)) }));
  await attempt(() => bus.apply({ pageId: page, payload: dense(bus.view(page)) }));
}

const scenarios = { race, alias };
const bus = await Bus.open(directory, { fsync: 'never' });
await scenarios[mode](bus);
const live = bus.stateHash();
await bus.close();
const reopened = await Bus.open(directory, { fsync: 'never' });
const recovered = reopened.stateHash();
await reopened.close();
process.stdout.write(`${JSON.stringify({ live, recovered, ...tally })}\n`);
