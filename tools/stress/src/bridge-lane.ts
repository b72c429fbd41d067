/**
 * The bridge lane: `mmsb serve`'s server (`BridgeServer`) in this process,
 * over a bus of its own, on an ipc endpoint in the run's private directory,
 * with short liveness timings so that abandoned sessions expire within a
 * round. Each round runs a few clients at once (and now and then a peer
 * that vanishes without `bye`); once they have left, the server's sessions,
 * handles and shared-memory files must all return to 0. A generation ends
 * by stopping the server (its shared-memory directory must go) and
 * reopening the bus (the same state).
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

import { Bus, type BusOptions, type FsyncPolicy } from '@mmsb/bus';
import { BridgeServer, connect, type BridgeClient } from '@mmsb/julia-bridge';

import { runAbandonedPeer, runClient } from './bridge-clients.js';
import { rotate, type RunContext } from './context.js';
import { Pacer } from './pace.js';
import { checkDiskBound, entryCount } from './disk.js';
import { check, InvariantBroken } from './invariants.js';
import type { Random } from './random.js';

const POLICIES: readonly FsyncPolicy[] = ['always', 'interval', 'never'];
/** Short enough that an abandoned session expires within its round; long enough that a stalled event loop expires no live one. */
const LIVENESS = { heartbeatMs: 250, sessionTimeoutMs: 3000 };
/** Reads and writes above this go through shared memory: most pages of the lane. */
const INLINE_BYTES_MAX = 2048;
/** Requests a second of all the clients of a round together. */
const BRIDGE_OPERATIONS_PER_SECOND = 150;
/** How long after its clients left the server may take to be back at 0 (an abandoned session expires first). */
const BALANCE_MS_MAX = LIVENESS.sessionTimeoutMs + 5000;

export class BridgeLane {
  readonly #context: RunContext;
  readonly #random: Random;
  #planted = false;

  constructor(context: RunContext, random: Random) {
    this.#context = context;
    this.#random = random;
  }

  run(): Promise<void> {
    return rotate(this.#context, 'bridge', this.#random, (directory, random) => this.#generation(directory, random));
  }

  async #generation(directory: string, random: Random): Promise<void> {
    const { runtime, tally, stop } = this.#context;
    mkdirSync(directory, { recursive: true });
    let background: unknown;
    const options: BusOptions = {
      fsync: random.pick(POLICIES),
      fsyncIntervalMs: 20,
      segmentBytes: 256 * 1024,
      checkpointEveryBytes: 1024 * 1024,
      checkpointsRetained: random.between(1, 3),
      onBackgroundError: (error) => (background ??= error),
    };
    const bus = await Bus.open(directory, options);
    const socket = join(runtime, `bridge-${random.seed.toString(16)}.sock`);
    let server: BridgeServer | undefined;
    let hash: string;
    try {
      server = await BridgeServer.start({
        bus,
        endpoint: `ipc://${socket}`,
        shmRoot: join(runtime, 'shm'),
        limits: { maxInlineBytes: INLINE_BYTES_MAX },
        liveness: LIVENESS,
        onError: (error) => (background ??= error),
      });
      for (let rounds = random.between(3, 12), round = 0; round < rounds && !stop.requested; round++) {
        await this.#round(server, random.fork(round));
        if (background !== undefined) throw background;
        checkDiskBound(tally, directory);
      }
      const shared = server.sharedMemoryDirectory;
      await server.close();
      server = undefined;
      check(!existsSync(shared), 'handles-unbalanced', () => `the stopped server left its shared-memory directory ${shared}`);
      tally.checkpoints += bus.stats().checkpoints;
      hash = bus.stateHash();
      const replayed = (await bus.stateAt(bus.lsn)).stateHash();
      check(replayed === hash, 'replay-differs', () => `the bridge's bus hashes ${hash}, replayed to LSN ${bus.lsn} ${replayed}`);
    } finally {
      await server?.close();
      await bus.close();
      // ZeroMQ leaves an ipc endpoint's file behind; a week of generations would pile them up.
      rmSync(socket, { force: true });
    }
    const reopened = await Bus.open(directory, options);
    const reopenedHash = reopened.stateHash();
    await reopened.close();
    check(reopenedHash === hash, 'replay-differs', () => `the bridge's bus reopened with hash ${reopenedHash}, it closed with ${hash}`);
    tally.replayChecks += 2;
    tally.reopens++;
  }

  /** A few clients (and maybe an abandoned peer) at once; then everything they held must be freed. */
  async #round(server: BridgeServer, random: Random): Promise<void> {
    const { tally, stop } = this.#context;
    const until = Date.now() + random.between(300, 3000);
    const pacer = new Pacer(BRIDGE_OPERATIONS_PER_SECOND);
    const clients = Array.from({ length: random.between(1, 3) }, (_, index) =>
      runClient(server.endpoint, random.fork(`client ${index}`), { until, tally, pacer, stopped: () => stop.requested }),
    );
    if (random.chance(0.3)) clients.push(runAbandonedPeer(server.endpoint, random.fork('abandoned'), tally));
    const outcomes = await Promise.allSettled(clients);
    const failed = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    const held = await this.#plantHeldHandle(server);
    try {
      await this.#balanced(server);
    } finally {
      await held?.close();
    }
  }

  /** The planted bug `held-handle`: once, a client that holds a handle stays connected through the balance check. */
  async #plantHeldHandle(server: BridgeServer): Promise<BridgeClient | undefined> {
    if (this.#context.plant !== 'held-handle' || this.#planted) return undefined;
    this.#planted = true;
    const client = await connect(server.endpoint, { client: 'mmsb stress (planted)' });
    await client.createPage({ size: 64 });
    return client;
  }

  async #balanced(server: BridgeServer): Promise<void> {
    const deadline = Date.now() + BALANCE_MS_MAX;
    for (;;) {
      const { sessions, handles } = server.stats();
      const entries = entryCount(server.sharedMemoryDirectory);
      if (sessions === 0 && handles === 0 && entries === 0) break;
      if (Date.now() > deadline) {
        throw new InvariantBroken(
          'handles-unbalanced',
          `${BALANCE_MS_MAX} ms after its clients left, the bridge holds ${sessions} sessions, ${handles} handles, ` +
            `${entries} shared-memory files`,
        );
      }
      await delay(50);
    }
    this.#context.tally.handleChecks++;
  }
}
