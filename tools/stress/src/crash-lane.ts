/**
 * The crash lane: a child process writes under a random fsync policy and is
 * killed with SIGKILL at a random moment; its directory is then recovered
 * here and must hold exactly operations 0..n of the workload for some n at
 * or past the last one the child acknowledged (nothing acknowledged lost,
 * nothing after a gap), which the oracle decides page by page (bytes,
 * epochs, metadata). A process kill leaves what was written in the page
 * cache, so this holds under every policy, `never` included; power loss is
 * the storage simulator's part (docs/reliability.md).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, truncateSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { Bus, type FsyncPolicy } from '@mmsb/bus';
import { native } from '@mmsb/core-native';

import { rotate, type RunContext } from './context.js';
import { CRASH_PAGE_IDS, crashOperation, modelCrashOperation } from './crash-workload.js';
import { checkDiskBound } from './disk.js';
import { check, InvariantBroken } from './invariants.js';
import { LaneModel } from './lane-model.js';
import type { Random } from './random.js';

const CHILD = fileURLToPath(new URL('./child-writer.js', import.meta.url));
const POLICIES: readonly FsyncPolicy[] = ['always', 'interval', 'never'];
/** A child that has not reported `ready` by then is stuck. */
const START_MS_MAX = 30_000;
/** The stderr a failed child leaves in its violation. */
const STDERR_KEPT = 2000;

/** What one life of the child reported before it was killed. */
interface Life {
  /** The last operation started: it may have reached the log or not. */
  submitted: number;
  /** The last operation acknowledged: it must have. */
  acknowledged: number;
  /** The LSN of the last acknowledged operation's record. */
  acknowledgedLsn: number | undefined;
}

/** The oracle of a generation: operations 0..applied done to the model. */
class CrashOracle {
  readonly model = new LaneModel();
  readonly #seed: number;
  applied = -1;

  constructor(seed: number) {
    this.#seed = seed;
  }

  advance(): void {
    this.applied++;
    modelCrashOperation(this.model, crashOperation(this.#seed, this.applied));
  }

  /** What differs between a recovered bus and operations 0..applied; undefined when nothing does. */
  differences(bus: Bus): string | undefined {
    const expected = this.applied < 0 ? 0 : CRASH_PAGE_IDS.length;
    if (bus.livePageCount !== expected) return `${bus.livePageCount} live pages, expected ${expected}`;
    return expected === 0 ? undefined : this.model.differences(bus, CRASH_PAGE_IDS, true);
  }
}

export class CrashLane {
  readonly #context: RunContext;
  readonly #random: Random;
  #planted = false;

  constructor(context: RunContext, random: Random) {
    this.#context = context;
    this.#random = random;
  }

  run(): Promise<void> {
    return rotate(this.#context, 'child-writer', this.#random, (directory, random) => this.#generation(directory, random));
  }

  async #generation(directory: string, random: Random): Promise<void> {
    mkdirSync(directory, { recursive: true });
    const oracle = new CrashOracle(random.seed);
    for (let lives = random.between(5, 40); lives > 0 && !this.#context.stop.requested; lives--) {
      const life = await this.#live(directory, random, oracle.applied + 1);
      this.#plantLostWrite(directory, life);
      await this.#recover(directory, oracle, life);
      checkDiskBound(this.#context.tally, directory);
      // Starting a process costs more than its whole life of writes: a pause keeps kills to about one in two seconds.
      await this.#context.stop.sleep(random.between(250, 1500));
    }
  }

  /** Runs the child from operation `start` and kills it at a random moment after it is ready. */
  #live(directory: string, random: Random, start: number): Promise<Life> {
    const { stop, tally } = this.#context;
    const policy = random.pick(POLICIES);
    const args = [CHILD, directory, String(random.seed), String(start), String(random.between(1, 3)), policy];
    args.push(random.chance(0.3) ? 'main' : 'worker');
    const killAfterMs = random.chance(0.2) ? random.between(0, 20) : random.between(20, 1500);
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const life: Life = { submitted: start - 1, acknowledged: start - 1, acknowledgedLsn: undefined };
      let pending = '';
      let stderr = '';
      let ready = false;
      let stuckKilled = false;
      const kill = (): void => void child.kill('SIGKILL');
      const stuck = setTimeout(() => {
        stuckKilled = true;
        kill();
      }, START_MS_MAX);
      child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-STDERR_KEPT)));
      child.stdout.on('data', (chunk: Buffer) => {
        const lines = (pending + chunk.toString()).split('\n');
        pending = lines.pop()!;
        for (const line of lines) {
          const [tag, k, lsn] = line.split(' ');
          if (tag === 's') {
            life.submitted = Math.max(life.submitted, Number(k));
          } else if (tag === 'a') {
            if (Number(k) > life.acknowledged) life.acknowledgedLsn = Number(lsn);
            life.acknowledged = Math.max(life.acknowledged, Number(k));
            tally.childOperations++;
            tally.operations++;
          } else if (tag === 'ready') {
            ready = true;
            clearTimeout(stuck);
            void stop.sleep(killAfterMs).then(kill);
          }
        }
      });
      child.on('error', reject);
      // 'close', not 'exit': the lines the child wrote before it died are all read by then.
      child.on('close', (code, signal) => {
        clearTimeout(stuck);
        if (signal === 'SIGKILL' && ready) {
          tally.kills++;
          resolve(life);
        } else {
          const how = ready
            ? `exited with ${signal ?? code}`
            : stuckKilled
              ? `was not ready within ${START_MS_MAX} ms`
              : `exited with ${signal ?? code} before it was ready`;
          reject(new InvariantBroken('operation-failed', `the child writer (${policy}) ${how}: ${stderr}`));
        }
      });
    });
  }

  /** Opens the killed child's directory: the state must be operations 0..n for an n at or past the last acknowledged. */
  async #recover(directory: string, oracle: CrashOracle, life: Life): Promise<void> {
    const { tally } = this.#context;
    const bus = await Bus.open(directory, { fsync: 'never' });
    try {
      if (bus.recovery?.tornTail !== undefined) tally.tornTails++;
      while (oracle.applied < life.acknowledged) oracle.advance();
      const atAcknowledged = oracle.differences(bus);
      let difference = atAcknowledged;
      while (difference !== undefined && oracle.applied < life.submitted) {
        oracle.advance();
        difference = oracle.differences(bus);
      }
      check(
        difference === undefined,
        'acknowledged-write-lost',
        () =>
          `recovered at LSN ${bus.lsn}, the state is not operations 0..n for any n from ${life.acknowledged} (the last acknowledged)` +
          ` to ${life.submitted} (the last submitted); against operations 0..${life.acknowledged}: ${atAcknowledged}`,
      );
      const hash = bus.stateHash();
      const replayed = (await bus.stateAt(bus.lsn)).stateHash();
      check(replayed === hash, 'replay-differs', () => `the recovered state hashes ${hash}, replayed to LSN ${bus.lsn} ${replayed}`);
      tally.recoveries++;
      tally.replayChecks++;
    } finally {
      await bus.close();
    }
  }

  /**
   * The planted bug `lost-write`: once, the log is cut at the record of the
   * last acknowledged operation, as a disk that lost an acknowledged write
   * would leave it (a cut at a record boundary reads as a clean end).
   */
  #plantLostWrite(directory: string, life: Life): void {
    const lsn = life.acknowledgedLsn;
    if (this.#context.plant !== 'lost-write' || this.#planted || life.acknowledged < 1 || lsn === undefined) return;
    const { segments, checkpoints } = native.inspectDirectory(directory);
    // A cut at or before a checkpoint's marker is a log ending before its checkpoint, which recovery refuses (LOG_CORRUPT).
    if (checkpoints.some((checkpoint) => checkpoint.lsn + 1 >= lsn)) return;
    const index = segments.findLastIndex((segment) => segment.lsn <= lsn);
    const segment = segments[index];
    if (segment === undefined) return;
    const record = native.scanSegment(segment.path, segment.lsn, index === segments.length - 1).records.find((entry) => entry.lsn === lsn);
    if (record === undefined) return;
    truncateSync(segment.path, record.offset);
    this.#planted = true;
  }
}
