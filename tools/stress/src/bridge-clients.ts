/**
 * Clients of the bridge lane. A TypeScript client (`@mmsb/julia-bridge`'s
 * `connect`) opens a session and, for a while, creates pages and writes,
 * batches, reads (inline, through shared memory, without a copy), opens
 * more references, releases, deletes and replays them, checking every
 * answer against its own oracle (only it writes its pages); then it leaves
 * by `bye`, after releasing everything, or with its releases queued. An
 * abandoned peer speaks the protocol on a bare socket and disappears
 * without `bye`, as a crashed process would: the server must expire it.
 */
import { ErrorCode, MmsbError, type DeltaPayload } from '@mmsb/bus';
import { connect, decode, encode, PROTOCOL_VERSION, U64, type BridgeClient, type Encodable } from '@mmsb/julia-bridge';
import { Dealer } from 'zeromq';

import { check } from './invariants.js';
import type { Pacer } from './pace.js';
import { applyPayload, firstDifference, randomPayload, sameBytes } from './payloads.js';
import type { Random } from './random.js';
import type { Tally } from './tally.js';

interface ClientPage {
  readonly handle: bigint;
  readonly page: number;
  readonly bytes: Uint8Array;
  epoch: number;
  /** References this session holds on the handle. */
  references: number;
  deleted: boolean;
}

/** A page's bytes right after a write, with that write's LSN, for replay. */
interface Written {
  readonly lsn: number;
  readonly page: ClientPage;
  readonly bytes: Uint8Array;
}

const PAGE_SIZES = [512, 4096, 16_384];
const PAGES_MAX = 4;
const WRITTEN_KEPT = 8;

function sameAsModel(page: ClientPage, epoch: number, bytes: Uint8Array, what: string, offset = 0): void {
  const expected = page.bytes.subarray(offset, offset + bytes.length);
  check(
    epoch === page.epoch && sameBytes(bytes, expected),
    'live-state-differs',
    () =>
      `${what} of page ${page.page} through the bridge: epoch ${epoch} (oracle ${page.epoch}), ` +
      `first differing byte ${firstDifference(bytes, expected) + offset} of ${page.bytes.length}`,
  );
}

class ClientWorkload {
  readonly #client: BridgeClient;
  readonly #random: Random;
  readonly pages: ClientPage[] = [];
  readonly #written: Written[] = [];

  constructor(client: BridgeClient, random: Random) {
    this.#client = client;
    this.#random = random;
  }

  get #live(): ClientPage[] {
    return this.pages.filter((page) => !page.deleted);
  }

  async step(): Promise<void> {
    const random = this.#random;
    if (this.#live.length === 0) return this.#create();
    const operation = random.weighted({
      create: this.pages.length < PAGES_MAX ? 8 : 0,
      write: 35,
      pipelined: 10,
      batch: 8,
      read: 25,
      info: 4,
      open: 4,
      release: 3,
      replay: 5,
      checkpoint: 1,
      remove: 2,
    });
    if (operation === 'create') return this.#create();
    if (operation === 'pipelined') return this.#pipelined();
    if (operation === 'batch') return this.#batch();
    if (operation === 'replay') return this.#replay();
    if (operation === 'checkpoint') return void (await this.#client.checkpoint({ full: random.chance(0.3) }));
    const page = random.pick(this.#live);
    if (operation === 'write') return this.#write(page);
    if (operation === 'read') return this.#read(page);
    if (operation === 'info') return sameAsModel(page, (await this.#client.info(page.handle)).epoch, new Uint8Array(0), 'info');
    if (operation === 'open') return this.#open(page);
    if (operation === 'release') return this.#release(page);
    return this.#remove(page);
  }

  async #create(): Promise<void> {
    const size = this.#random.pick(PAGE_SIZES);
    const created = await this.#client.createPage({ size });
    this.pages.push({ handle: created.handle, page: created.page, bytes: new Uint8Array(size), epoch: 0, references: 1, deleted: false });
  }

  /** Sends a write and applies it to the oracle in sending order (the server applies in arrival order). */
  #send(page: ClientPage, payload: DeltaPayload): Promise<void> {
    const viaShm = payload.kind !== 'ranges' && this.#random.chance(0.2) ? true : undefined;
    const expectEpoch = this.#random.chance(0.2) ? page.epoch : undefined;
    const pending = this.#client.write(page.handle, payload, {
      ...(viaShm ? { viaShm } : {}),
      ...(expectEpoch === undefined ? {} : { expectEpoch }),
    });
    applyPayload(page.bytes, payload);
    const epoch = ++page.epoch;
    const bytes = this.#random.chance(0.25) ? page.bytes.slice() : undefined;
    return pending.then((written) => {
      check(
        written.epoch === epoch,
        'live-state-differs',
        () => `a write to page ${page.page} answered epoch ${written.epoch}, expected ${epoch}`,
      );
      if (bytes !== undefined) this.#remember({ lsn: written.lsn, page, bytes });
    });
  }

  #remember(written: Written): void {
    this.#written.push(written);
    if (this.#written.length > WRITTEN_KEPT) this.#written.shift();
  }

  #write(page: ClientPage): Promise<void> {
    return this.#send(page, randomPayload(this.#random, page.bytes.length));
  }

  async #pipelined(): Promise<void> {
    const writes = Array.from({ length: this.#random.between(2, 5) }, () => {
      const page = this.#random.pick(this.#live);
      return this.#send(page, randomPayload(this.#random, page.bytes.length));
    });
    await Promise.all(writes);
  }

  async #batch(): Promise<void> {
    const deltas = Array.from({ length: this.#random.between(2, 4) }, () => {
      const page = this.#random.pick(this.#live);
      return { page, payload: randomPayload(this.#random, page.bytes.length) };
    });
    const pending = this.#client.batch(deltas.map(({ page, payload }) => ({ handle: page.handle, payload })));
    for (const { page, payload } of deltas) {
      applyPayload(page.bytes, payload);
      page.epoch++;
    }
    const { count } = await pending;
    check(count === deltas.length, 'operation-failed', () => `a batch of ${deltas.length} through the bridge answered ${count}`);
  }

  async #read(page: ClientPage): Promise<void> {
    const random = this.#random;
    const via = random.pick(['auto', 'inline', 'shm'] as const);
    const offset = random.chance(0.3) ? random.below(page.bytes.length) : 0;
    const options = { via, ...(offset > 0 ? { offset, length: random.between(0, page.bytes.length - offset) } : {}) };
    const { epoch, bytes } = random.chance(0.5)
      ? await this.#client.readView(page.handle, options)
      : await this.#client.read(page.handle, options);
    sameAsModel(page, epoch, bytes, 'a read', offset);
  }

  async #open(page: ClientPage): Promise<void> {
    const opened = await this.#client.openPage(page.page);
    check(
      opened.handle === page.handle,
      'handles-unbalanced',
      () => `opening page ${page.page} again gave handle ${opened.handle}, not ${page.handle}`,
    );
    page.references++;
    sameAsModel(page, opened.epoch, new Uint8Array(0), 'open');
  }

  /** Drops one reference; the last one frees the handle (the page stays in the bus). */
  async #release(page: ClientPage): Promise<void> {
    const freed = await this.#client.release([page.handle]);
    page.references--;
    check(freed === (page.references === 0 ? 1 : 0), 'handles-unbalanced', () => `releasing handle ${page.handle} freed ${freed}`);
    if (page.references === 0) this.#forget(page);
  }

  /** Releases the page in the bus: the handle stays until released, and reading through it is refused. */
  async #remove(page: ClientPage): Promise<void> {
    await this.#client.delete(page.handle);
    page.deleted = true;
    const outcome = await this.#client.read(page.handle).then(
      () => 'success',
      (error: unknown) => (error instanceof MmsbError ? error.code : String(error)),
    );
    check(outcome === ErrorCode.PAGE_RELEASED, 'operation-failed', () => `reading a deleted page through the bridge: ${outcome}`);
  }

  async #replay(): Promise<void> {
    const { oldestLsn } = await this.#client.log();
    const candidates = this.#written.filter(
      (written) => written.lsn >= oldestLsn && this.pages.includes(written.page) && !written.page.deleted,
    );
    if (candidates.length === 0) return;
    const written = this.#random.pick(candidates);
    const replayed = await this.#client.replay(written.lsn, [written.page.handle]).catch(async (error: unknown) => {
      // Another client's checkpoint may have moved retention past the LSN since `log` answered: then the refusal is right.
      const moved = error instanceof MmsbError && error.code === ErrorCode.LSN_OUT_OF_RANGE;
      if (moved && (await this.#client.log()).oldestLsn > written.lsn) return undefined;
      throw error;
    });
    if (replayed === undefined) return;
    const bytes = replayed.pages[0]?.bytes ?? new Uint8Array(0);
    check(
      sameBytes(bytes, written.bytes),
      'time-travel-differs',
      () =>
        `page ${written.page.page} replayed through the bridge to LSN ${written.lsn} ` +
        `differs at byte ${firstDifference(bytes, written.bytes)}`,
    );
  }

  #forget(page: ClientPage): void {
    this.pages.splice(this.pages.indexOf(page), 1);
  }
}

/** What a client's session is given: when to leave, what to count, its turns, and whether the run stopped. */
export interface ClientTerms {
  readonly until: number;
  readonly tally: Tally;
  readonly pacer: Pacer;
  readonly stopped: () => boolean;
}

/** One client's session: work until `until`, then leave in one of the three ways. */
export async function runClient(endpoint: string, random: Random, { until, tally, pacer, stopped }: ClientTerms): Promise<void> {
  const client = await connect(endpoint, { client: 'mmsb stress', timeoutMs: 15_000 });
  tally.bridgeSessions++;
  const workload = new ClientWorkload(client, random);
  try {
    while (Date.now() < until && !stopped()) {
      await workload.step();
      tally.operations++;
      await pacer.turn();
    }
    const leaving = random.weighted({ bye: 2, released: 1, queued: 1 });
    const handles = workload.pages.flatMap((page) => Array<bigint>(page.references).fill(page.handle));
    if (leaving === 'released' && handles.length > 0) {
      const freed = await client.release(handles);
      check(
        freed === workload.pages.length,
        'handles-unbalanced',
        () => `releasing every handle freed ${freed} of ${workload.pages.length}`,
      );
    }
    if (leaving === 'queued') for (const handle of handles) client.releaseLater(handle);
  } finally {
    await client.close();
  }
}

/** A peer that opens a session, creates and writes a page, reads it through shared memory, and vanishes without `bye`. */
export async function runAbandonedPeer(endpoint: string, random: Random, tally: Tally): Promise<void> {
  const socket = new Dealer({ linger: 0 });
  socket.connect(endpoint);
  let rid = 0;
  const request = async (op: string, fields: { readonly [key: string]: Encodable } = {}): Promise<Record<string, unknown>> => {
    await socket.send(encode({ v: PROTOCOL_VERSION, rid: new U64(++rid), op, ...fields }));
    const [body] = await socket.receive();
    const response = decode(body!) as Record<string, unknown>;
    if (response.ok !== true)
      throw new MmsbError(ErrorCode.INTERNAL, `the abandoned peer's ${op}: ${String(response.code)} ${String(response.message)}`);
    return response;
  };
  try {
    await request('hello', { versions: [PROTOCOL_VERSION], client: 'mmsb stress (abandoned)' });
    const size = random.pick(PAGE_SIZES);
    const { handle } = await request('create', { size });
    await request('write', { handle: new U64(handle as bigint | number), form: 'dense', bytes: random.bytes(size) });
    await request('read', { handle: new U64(handle as bigint | number), via: 'shm' });
    tally.bridgeSessions++;
    tally.bridgeAbandoned++;
    tally.operations += 3;
  } finally {
    socket.close();
  }
}
