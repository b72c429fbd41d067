/**
 * The operations of an in-process lane, one function each: every one acts
 * on the bus and on its oracle in the same synchronous step (a mutation
 * takes effect when its call returns, so concurrent writers interleave
 * whole operations), checks the pages it touched at once, then awaits the
 * acknowledgement.
 */
import { MmsbError, type Bus, type EdgeKind, type FsyncPolicy, type PageId, type PageMemory } from '@mmsb/bus';

import { check } from './invariants.js';
import type { LaneModel } from './lane-model.js';
import { randomPayload } from './payloads.js';
import type { Random } from './random.js';
import type { Tally } from './tally.js';

export const PAGE_MEMORIES: readonly PageMemory[] = ['heap', 'arena', 'mapped'];
export const EDGE_KINDS: readonly EdgeKind[] = ['data', 'control', 'gpu_sync', 'compiler'];

/** A state hash recorded at an LSN, to compare time travel with later. */
interface HashSample {
  readonly lsn: number;
  readonly hash: string;
}

/** Samples kept per bus; a new one replaces a random old one. */
const SAMPLES_MAX = 32;
/** Scratch pages alive at once, per bus. */
const SCRATCH_MAX = 8;

/** One bus of a lane, its oracle, and what the operations share. */
export interface LaneSession {
  readonly part: string;
  readonly bus: Bus;
  readonly policy: FsyncPolicy;
  readonly model: LaneModel;
  readonly tally: Tally;
  /** Sources of the graph; a rewire moves `rewired`'s one edge among them. */
  readonly graphSources: readonly PageId[];
  readonly rewired: PageId;
  /** The deepest derived page (an edge from it to a source closes a cycle). */
  readonly deepest: PageId;
  readonly scratch: PageId[];
  readonly samples: HashSample[];
  /** Waves and checkpoints this bus had finished when the tally last counted them. */
  readonly seen: { waves: number; checkpoints: number };
}

/** Checks the live pages `ids` and every derived page against the oracle; samples the state hash now and then. */
function committed(session: LaneSession, random: Random, ids: readonly PageId[]): void {
  const { bus, model } = session;
  const difference = model.differences(bus, [...new Set([...ids, ...model.derived])]);
  check(difference === undefined, 'live-state-differs', () => `${difference} (LSN ${bus.lsn})`);
  if (random.chance(1 / 8)) {
    const sample = { lsn: bus.lsn, hash: bus.stateHash() };
    if (session.samples.length < SAMPLES_MAX) session.samples.push(sample);
    else session.samples[random.below(SAMPLES_MAX)] = sample;
  }
}

/** Under `fsync: 'always'` an acknowledged record is durable. */
function durable(session: LaneSession, lsn: number): void {
  if (session.policy !== 'always') return;
  const durableLsn = session.bus.durableLsn;
  check(
    durableLsn >= lsn,
    'acknowledged-write-lost',
    () => `LSN ${lsn} was acknowledged under fsync always, but durable LSN is ${durableLsn}`,
  );
}

async function delta(session: LaneSession, random: Random): Promise<void> {
  const { bus, model, tally } = session;
  const pageId = random.pick(model.sources);
  const payload = randomPayload(random, model.size(pageId));
  const expectEpoch = random.chance(0.2) ? model.epoch(pageId) : undefined;
  const pending = bus.apply({ pageId, payload, expectEpoch });
  model.apply(pageId, payload);
  model.wave([pageId]);
  const epoch = model.epoch(pageId);
  committed(session, random, [pageId]);
  const applied = await pending;
  check(applied.epoch === epoch, 'live-state-differs', () => `apply on page ${pageId} reported epoch ${applied.epoch}, expected ${epoch}`);
  durable(session, applied.lsn);
  tally.deltas++;
}

async function batch(session: LaneSession, random: Random): Promise<void> {
  const { bus, model, tally } = session;
  const sources = model.sources;
  const deltas = Array.from({ length: random.between(2, 6) }, () => {
    const pageId = random.pick(sources);
    return { pageId, payload: randomPayload(random, model.size(pageId)) };
  });
  const pending = bus.applyBatch(deltas);
  const lsn = bus.lsn;
  for (const { pageId, payload } of deltas) model.apply(pageId, payload);
  const pageIds = deltas.map((entry) => entry.pageId);
  model.wave(pageIds);
  committed(session, random, pageIds);
  check((await pending) === deltas.length, 'operation-failed', () => `a batch of ${deltas.length} reported another count`);
  durable(session, lsn);
  tally.deltas += deltas.length;
  tally.batches++;
}

async function metadata(session: LaneSession, random: Random): Promise<void> {
  const { bus, model } = session;
  const pageId = random.pick(model.sources);
  const value = random.chance(0.2) ? undefined : random.below(1_000_000);
  const pending = bus.setMetadata(pageId, 'n', value);
  model.setValue(pageId, value);
  const difference = model.differences(bus, [pageId], true);
  check(difference === undefined, 'live-state-differs', () => difference!);
  await pending;
}

async function scratch(session: LaneSession, random: Random): Promise<void> {
  const { bus, model } = session;
  if (session.scratch.length >= SCRATCH_MAX || (session.scratch.length > 0 && random.chance(0.5))) {
    const id = session.scratch.splice(random.below(session.scratch.length), 1)[0]!;
    const pending = bus.releasePage(id);
    model.release(id);
    const difference = model.releasedDifferences(bus);
    check(difference === undefined, 'live-state-differs', () => difference!);
    await pending;
    return;
  }
  const size = random.between(1, 2048);
  const value = random.below(1000);
  const id = await bus.createPage({ size, memory: random.pick(PAGE_MEMORIES), metadata: { n: value } });
  model.create(id, size, value);
  session.scratch.push(id);
  const difference = model.differences(bus, [id], true);
  check(difference === undefined, 'live-state-differs', () => difference!);
}

async function move(session: LaneSession, random: Random): Promise<void> {
  const { bus, model } = session;
  const pageId = random.pick(model.sources);
  const memory = random.pick(PAGE_MEMORIES);
  const hash = bus.stateHash();
  const pending = bus.movePage(pageId, memory);
  check(bus.stateHash() === hash, 'live-state-differs', () => `moving page ${pageId} to ${memory} changed the state hash`);
  check(bus.page(pageId).memory === memory, 'operation-failed', () => `page ${pageId} is in ${bus.page(pageId).memory}, not ${memory}`);
  committed(session, random, [pageId]);
  await pending;
}

/** Moves the rewired page's one edge to another source: two calls in one step, so no wave sees it half done. */
async function rewire(session: LaneSession, random: Random): Promise<void> {
  const { bus, model, rewired } = session;
  const [from] = model.parents(rewired);
  const to = random.pick(session.graphSources.filter((source) => source !== from));
  const removing = bus.removeEdge(from!, rewired);
  const adding = bus.addEdge(to, rewired, random.pick(EDGE_KINDS));
  model.setParents(rewired, [to]);
  const parents = bus.parents(rewired).map((edge) => edge.parent);
  check(parents.length === 1 && parents[0] === to, 'live-state-differs', () => `page ${rewired} has parents ${parents}, expected ${to}`);
  await Promise.all([removing, adding]);
}

/** A bad operation of a random kind: it must be refused with its code and change nothing. */
async function refused(session: LaneSession, random: Random): Promise<void> {
  const { bus, model, tally } = session;
  const pageId = random.pick(model.sources);
  const size = model.size(pageId);
  const attempts: [string, () => Promise<unknown>][] = [
    ['EPOCH_CONFLICT', () => bus.apply({ pageId, payload: randomPayload(random, size), expectEpoch: model.epoch(pageId) + 1 })],
    ['DELTA_SIZE_MISMATCH', () => bus.apply({ pageId, payload: randomPayload(random, size + 1, 'dense') })],
    ['RANGE_OUT_OF_BOUNDS', () => bus.apply({ pageId, payload: { kind: 'ranges', ranges: [{ offset: size, bytes: random.bytes(1) }] } })],
    ['GRAPH_CYCLE', () => bus.addEdge(session.deepest, random.pick(model.parents(session.deepest)))],
  ];
  const [released] = model.released;
  if (released !== undefined) attempts.push(['PAGE_RELEASED', () => bus.setMetadata(released, 'n', 1)]);
  const [code, attempt] = random.pick(attempts);
  const lsn = bus.lsn;
  const hash = bus.stateHash();
  const outcome = attempt().then(
    () => 'success',
    (error: unknown) => (error instanceof MmsbError ? error.code : String(error)),
  );
  check(bus.lsn === lsn && bus.stateHash() === hash, 'operation-failed', () => `a refused ${code} operation changed the state`);
  const got = await outcome;
  check(got === code, 'operation-failed', () => `a bad operation expecting ${code} got ${got}`);
  tally.refusals++;
}

async function checkpoint(session: LaneSession, random: Random): Promise<void> {
  const { bus } = session;
  const hash = bus.stateHash();
  const info = await bus.checkpoint({ full: random.chance(0.3) });
  check(
    info.stateHash === hash,
    'replay-differs',
    () => `checkpoint at LSN ${info.lsn} holds hash ${info.stateHash}, the state had ${hash}`,
  );
}

/** A recorded state hash against the state at its LSN; and nothing before the oldest retained LSN. */
async function timeTravel(session: LaneSession, random: Random): Promise<void> {
  const { bus, tally } = session;
  const oldest = bus.oldestLsn;
  const reachable = session.samples.filter((sample) => sample.lsn >= oldest);
  if (reachable.length > 0) {
    const sample = random.pick(reachable);
    const past = await bus.stateAt(sample.lsn);
    const hash = past.stateHash();
    check(hash === sample.hash, 'time-travel-differs', () => `state at LSN ${sample.lsn} hashes ${hash}, it was ${sample.hash}`);
    tally.timeTravelReads++;
  }
  if (oldest > 0) {
    const outcome = await bus.stateAt(oldest - 1).then(
      () => 'success',
      (error: unknown) => (error instanceof MmsbError ? error.code : String(error)),
    );
    check(outcome === 'LSN_OUT_OF_RANGE', 'operation-failed', () => `state at LSN ${oldest - 1}, before the oldest retained: ${outcome}`);
  }
  session.samples.splice(0, session.samples.length, ...reachable);
}

/** The state replayed to the current LSN against the live state. */
export async function replayCheck(session: LaneSession): Promise<void> {
  const { bus, tally } = session;
  const lsn = bus.lsn;
  const hash = bus.stateHash();
  const replayed = await bus.stateAt(lsn);
  const replayedHash = replayed.stateHash();
  check(replayedHash === hash, 'replay-differs', () => `state replayed to LSN ${lsn} hashes ${replayedHash}, the live state ${hash}`);
  tally.replayChecks++;
}

async function sync(session: LaneSession): Promise<void> {
  const lsn = await session.bus.sync();
  check(
    session.bus.durableLsn >= lsn,
    'operation-failed',
    () => `sync resolved to LSN ${lsn} but durable LSN is ${session.bus.durableLsn}`,
  );
}

const OPERATIONS = {
  delta,
  batch,
  metadata,
  scratch,
  move,
  rewire,
  refused,
  checkpoint,
  timeTravel,
  replayCheck,
  sync,
} satisfies Record<string, (session: LaneSession, random: Random) => Promise<void>>;

/** How often each operation is drawn. */
const WEIGHTS: Readonly<Record<keyof typeof OPERATIONS, number>> = {
  delta: 50,
  batch: 12,
  metadata: 5,
  scratch: 4,
  move: 3,
  rewire: 3,
  refused: 4,
  checkpoint: 0.5,
  timeTravel: 4,
  replayCheck: 2,
  sync: 1,
};

/** Draws one operation and performs it. */
export async function performOperation(session: LaneSession, random: Random): Promise<void> {
  await OPERATIONS[random.weighted(WEIGHTS)](session, random);
  session.tally.operations++;
}
