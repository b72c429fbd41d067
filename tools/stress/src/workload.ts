/**
 * An in-process lane: one bus on a data directory under one fsync policy,
 * written by concurrent writers, with a dependency graph whose waves run
 * built-in and JavaScript recomputes. A generation sets up pages and graph,
 * then runs phases: writers for a few seconds, then a full check against
 * the oracle and replay, and now and then a close and reopen that must give
 * back the same state. Each generation draws new store options (segment
 * size, checkpoint interval, retention, compression, sync thread), so the
 * log rolls over, checkpoints (full and incremental) are taken by size, by
 * time and by hand, and retention deletes what they cover.
 */
import { mkdirSync } from 'node:fs';

import { Bus, type BusOptions, type FsyncPolicy, type PageId, type PageMemory, type Recompute } from '@mmsb/bus';

import { rotate, type RunContext } from './context.js';
import { checkDiskBound } from './disk.js';
import { check } from './invariants.js';
import { LaneModel, mix, type Transform } from './lane-model.js';
import { EDGE_KINDS, PAGE_MEMORIES, performOperation, replayCheck, type LaneSession } from './lane-operations.js';
import { Pacer } from './pace.js';
import type { Random } from './random.js';

/** Operations a second of one lane, over all its writers. */
const LANE_OPERATIONS_PER_SECOND = 150;

/** The derived pages of every generation: `parents` index the sources, or (negative) derived pages before them. */
const DERIVED: readonly { readonly transform: Transform; readonly parents: readonly number[]; readonly sizeFactor: number }[] = [
  { transform: 'copy', parents: [0], sizeFactor: 1 },
  { transform: 'xor', parents: [1, 2], sizeFactor: 1 },
  { transform: 'concat', parents: [3, 4], sizeFactor: 2 },
  { transform: 'mix', parents: [-1, -2], sizeFactor: 1 },
  { transform: 'mix', parents: [5], sizeFactor: 1 },
  { transform: 'xor', parents: [-4, 0], sizeFactor: 1 },
  { transform: 'mix', parents: [-3, -5, 2], sizeFactor: 1 },
];
/** Index in DERIVED of the page whose edge moves, and of a deepest one. */
const REWIRED = 4;
const DEEPEST = 5;

function options(random: Random, policy: FsyncPolicy, onBackgroundError: (error: unknown) => void): BusOptions {
  return {
    fsync: policy,
    syncThread: random.chance(0.3) ? 'main' : 'worker',
    fsyncIntervalMs: random.pick([5, 20, 100]),
    segmentBytes: random.pick([16, 64, 256]) * 1024,
    checkpointEveryBytes: random.pick([256, 1024, 4096]) * 1024,
    checkpointsRetained: random.between(1, 3),
    ...(random.chance(0.5) ? { compressRecordsAbove: 256 } : {}),
    ...(random.chance(0.2) ? { checkpointEveryMs: random.pick([1000, 3000]) } : {}),
    onBackgroundError,
  };
}

/** A random page memory that takes `size` bytes (arena pages are at most 4096 bytes). */
function memoryFor(random: Random, size: number): PageMemory {
  const memory = random.pick(PAGE_MEMORIES);
  return memory === 'arena' && size > 4096 ? 'heap' : memory;
}

function recomputeOf(transform: Transform, size: number): Recompute {
  return transform === 'mix' ? (parents, _current, _child, out) => mix(parents, size, out) : transform;
}

export class BusLane {
  readonly #context: RunContext;
  readonly #part: string;
  readonly #policy: FsyncPolicy;
  readonly #random: Random;
  readonly #pacer = new Pacer(LANE_OPERATIONS_PER_SECOND);
  #planted = false;

  constructor(context: RunContext, policy: FsyncPolicy, random: Random) {
    this.#context = context;
    this.#policy = policy;
    this.#part = `lane-${policy}`;
    this.#random = random;
  }

  run(): Promise<void> {
    return rotate(this.#context, this.#part, this.#random, (directory, random) => this.#generation(directory, random));
  }

  async #generation(directory: string, random: Random): Promise<void> {
    const { stop } = this.#context;
    mkdirSync(directory, { recursive: true });
    let background: unknown;
    const busOptions = options(random, this.#policy, (error) => (background ??= error));
    const opened = await Bus.open(directory, busOptions);
    let session: LaneSession | undefined;
    try {
      session = await this.#setUp(opened, random);
      const phases = random.between(2, 6);
      for (let phase = 0; phase < phases && !stop.requested; phase++) {
        await this.#phase(session, random.fork(`phase ${phase}`));
        if (background !== undefined) throw background;
        this.#plantStrayWrite(session);
        await this.#fullCheck(session, directory);
        if (phase < phases - 1 && random.chance(0.4)) session = await this.#reopen(session, directory, busOptions);
      }
      // The generation ends with a reopen that must give back the state, then its directory goes.
      session = await this.#reopen(session, directory, busOptions);
    } finally {
      // Closing twice is harmless; a failed generation's bus must not stay open (its lock, its timers).
      await (session?.bus ?? opened).close().catch(() => undefined);
    }
  }

  /** Sources, the derived pages with their edges and recomputes, each page in a random memory. */
  async #setUp(bus: Bus, random: Random): Promise<LaneSession> {
    const model = new LaneModel();
    const pageSize = random.pick([64, 256, 1024, 4096]);
    const sources: PageId[] = [];
    for (let index = 0, count = random.between(6, 10); index < count; index++) {
      const id = await bus.createPage({ size: pageSize, memory: memoryFor(random, pageSize), metadata: { n: index } });
      model.create(id, pageSize, index);
      sources.push(id);
    }
    const derived: PageId[] = [];
    for (const spec of DERIVED) {
      const size = pageSize * spec.sizeFactor;
      const id = await bus.createPage({ size, memory: memoryFor(random, size) });
      model.create(id, size);
      const parents = spec.parents.map((index) => (index >= 0 ? sources[index]! : derived[-index - 1]!));
      for (const parent of parents) await bus.addEdge(parent, id, random.pick(EDGE_KINDS));
      model.derive(id, spec.transform, parents);
      bus.recompute(id, recomputeOf(spec.transform, size));
      derived.push(id);
    }
    const session: LaneSession = {
      part: this.#part,
      bus,
      policy: this.#policy,
      model,
      tally: this.#context.tally,
      graphSources: sources,
      rewired: derived[REWIRED]!,
      deepest: derived[DEEPEST]!,
      scratch: [],
      samples: [],
      seen: { waves: 0, checkpoints: 0 },
    };
    const difference = model.differences(bus, model.ids, true);
    check(difference === undefined, 'live-state-differs', () => `after set-up: ${difference}`);
    return session;
  }

  /** Writers for a few seconds; the first failure stops them all. */
  async #phase(session: LaneSession, random: Random): Promise<void> {
    const { stop } = this.#context;
    const until = Date.now() + random.between(1000, 6000);
    let failure: unknown;
    const writer = async (writerRandom: Random): Promise<void> => {
      while (failure === undefined && Date.now() < until && !stop.requested) {
        try {
          await performOperation(session, writerRandom);
        } catch (error) {
          failure ??= error;
        }
        await this.#pacer.turn();
      }
    };
    await Promise.all(Array.from({ length: random.between(1, 3) }, (_, index) => writer(random.fork(`writer ${index}`))));
    this.#count(session);
    if (failure !== undefined) throw failure;
  }

  /** Every page (bytes, epoch, metadata), the released ones, the graph, replay, and the directory's size. */
  async #fullCheck(session: LaneSession, directory: string): Promise<void> {
    const { bus, model } = session;
    const difference = model.differences(bus, model.ids, true) ?? model.releasedDifferences(bus);
    check(difference === undefined, 'live-state-differs', () => `${difference} (LSN ${bus.lsn})`);
    for (const id of model.derived) {
      const parents = bus.parents(id).map((edge) => edge.parent);
      const expected = model.parents(id);
      check(
        parents.join() === expected.join(),
        'live-state-differs',
        () => `page ${id} has parents ${parents.join()}, the oracle ${expected.join()}`,
      );
    }
    await replayCheck(session);
    checkDiskBound(this.#context.tally, directory);
  }

  /** Closes the bus and opens its directory again: the same hash, every page as the oracle has it. */
  async #reopen(session: LaneSession, directory: string, busOptions: BusOptions): Promise<LaneSession> {
    const { tally } = this.#context;
    this.#count(session);
    const hash = session.bus.stateHash();
    const lsn = session.bus.lsn;
    await session.bus.close();
    const bus = await Bus.open(directory, busOptions);
    try {
      const reopened = bus.stateHash();
      check(
        reopened === hash,
        'replay-differs',
        () => `reopened at LSN ${bus.lsn} with hash ${reopened}; closed at LSN ${lsn} with ${hash}`,
      );
      const difference = session.model.differences(bus, session.model.ids, true);
      check(difference === undefined, 'acknowledged-write-lost', () => `after a reopen: ${difference}`);
      for (const id of session.model.derived) {
        bus.recompute(id, recomputeOf(session.model.transform(id), session.model.size(id)));
      }
    } catch (error) {
      await bus.close().catch(() => undefined);
      throw error;
    }
    tally.reopens++;
    tally.replayChecks++;
    return { ...session, bus, seen: { waves: 0, checkpoints: 0 } };
  }

  /** Adds the waves and checkpoints (by hand, by size and by time) the bus finished since last counted. */
  #count(session: LaneSession): void {
    const { tally } = this.#context;
    const waves = session.bus.propagationStats.waves;
    const checkpoints = session.bus.stats().checkpoints;
    tally.waves += waves - session.seen.waves;
    tally.checkpoints += checkpoints - session.seen.checkpoints;
    session.seen.waves = waves;
    session.seen.checkpoints = checkpoints;
  }

  /** The planted bug `stray-write`: once, a byte of a source page changes behind the log and the oracle. */
  #plantStrayWrite(session: LaneSession): void {
    if (this.#context.plant !== 'stray-write' || this.#planted || this.#policy !== 'always') return;
    this.#planted = true;
    const page = session.graphSources[0]!;
    session.bus.view(page)[0]! ^= 0xff;
  }
}
