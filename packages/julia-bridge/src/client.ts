/**
 * The TypeScript client of protocol v1: `connect(endpoint)` opens a
 * session; every method is one request, pipelined (many may be in flight)
 * and matched to its response by request id. Requests issued in the same
 * turn of the event loop leave together, as one packed message when the
 * server announces packing. Failures are the MmsbErrors of `@mmsb/bus`,
 * with the server's code.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { ErrorCode, MmsbError, type DeltaPayload, type EdgeKind, type Location, type PageMemory } from '@mmsb/bus';
import { native } from '@mmsb/core-native';
import { Dealer, Subscriber } from 'zeromq';

import { isMap, type Fields } from './fields.js';
import { decode } from './decode.js';
import { encodeRequest, U64, type Encodable } from './msgpack.js';
import { Outbox } from './outbox.js';
import { packRuns } from './packed.js';
import { PROTOCOL_VERSION, PROTOCOL_VERSIONS, TOPIC_COMMIT, type Limits } from './protocol.js';
import { Signer } from './signing.js';

export interface ConnectOptions {
  /** How long a request may wait for its response (default 30 s), then BRIDGE_TIMEOUT. */
  readonly timeoutMs?: number;
  /** The server's auth key, when it has one. */
  readonly key?: Uint8Array;
  /** Named in `hello`, for the server's logs. */
  readonly client?: string;
}

/** A page as a session holds it. */
export interface PageHandle {
  readonly handle: bigint;
  readonly page: number;
  readonly size: number;
  readonly epoch: number;
}

export interface PageDetails extends PageHandle {
  readonly location: Location;
  readonly memory: PageMemory;
}

/** A commit notification from the PUB socket. */
export interface CommitNotice {
  readonly pages: readonly bigint[];
  readonly firstLsn: number;
  readonly lastLsn: number;
  readonly source: string;
}

export interface ReadOptions {
  readonly offset?: number;
  readonly length?: number;
  /** `auto` (default): inline up to the server's `maxInlineBytes`, else shared memory. */
  readonly via?: 'auto' | 'inline' | 'shm';
}

export interface WriteOptions {
  readonly expectEpoch?: number;
  /** Send the bytes through a file in the session's shared-memory directory (default: when above `maxInlineBytes`). */
  readonly viaShm?: boolean;
}

interface Pending {
  readonly op: string;
  /** The handles a `release` request names, counted off once it succeeds. */
  readonly releasing: readonly bigint[] | undefined;
  readonly resolve: (fields: Fields) => void;
  readonly reject: (error: MmsbError) => void;
  readonly sentAt: number;
}

const knownCodes: ReadonlySet<string> = new Set(Object.values(ErrorCode));

function toNumber(value: unknown): number {
  return typeof value === 'bigint' ? Number(value) : (value as number);
}

function handleFields(fields: Fields): PageHandle {
  return {
    handle: BigInt(fields.handle as bigint),
    page: toNumber(fields.page),
    size: fields.size as number,
    epoch: fields.epoch as number,
  };
}

function payloadFields(payload: DeltaPayload): Record<string, Encodable> {
  switch (payload.kind) {
    case 'dense':
      return { form: 'dense', bytes: payload.bytes };
    case 'sparse':
      return { form: 'sparse', mask: payload.mask, bytes: payload.bytes };
    case 'ranges':
      return { form: 'ranges', ranges: payload.ranges.map((range) => [range.offset, range.bytes]) };
  }
}

export class BridgeClient {
  readonly #dealer: Dealer;
  readonly #outbox: Outbox;
  readonly #signer: Signer;
  readonly #timeoutMs: number;
  readonly #pending = new Map<number, Pending>();
  /** Request bodies of this turn of the event loop, sent together at its end. */
  #queue: Uint8Array[] = [];
  /** The most requests the server takes in one packed message; 0 until `hello` says it packs. */
  #packing = 0;
  readonly #releases: bigint[] = [];
  /**
   * The references this client holds on each handle, counted as the server
   * counts them (create and open add one, a release takes one), so that a
   * queued release of a handle it no longer holds is dropped here rather
   * than failing the request that would carry it.
   */
  readonly #held = new Map<bigint, number>();
  readonly #subscribers: Subscriber[] = [];
  /** The server's read file of each handle, mapped read-only once; dropped when the handle is released. */
  readonly #readFiles = new Map<bigint, Uint8Array>();
  #nextRid = 1;
  #nextFile = 0;
  #closed = false;
  #heartbeat: NodeJS.Timeout | undefined;
  /** One timer for every request's timeout: a timer per request would cost more than the request. */
  readonly #sweeper: NodeJS.Timeout;
  #lastSent = Date.now();
  /** The session, as `hello` answered. */
  session = 0n;
  limits: Limits | undefined;
  shmDir = '';
  pub: string | null = null;
  server = '';

  private constructor(endpoint: string, options: ConnectOptions) {
    this.#signer = new Signer(options.key);
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#dealer = new Dealer({ linger: 0, sendHighWaterMark: 0, receiveHighWaterMark: 0 });
    this.#dealer.connect(endpoint);
    this.#outbox = new Outbox(this.#dealer, () => undefined);
    this.#sweeper = setInterval(() => this.#expire(), Math.max(10, Math.min(1000, this.#timeoutMs / 4)));
    this.#sweeper.unref();
    void this.#receive();
  }

  #expire(): void {
    const deadline = Date.now() - this.#timeoutMs;
    for (const [rid, pending] of this.#pending) {
      if (pending.sentAt > deadline) break;
      this.#pending.delete(rid);
      pending.reject(new MmsbError(ErrorCode.BRIDGE_TIMEOUT, `no response to ${pending.op} within ${this.#timeoutMs} ms`));
    }
  }

  /** Connects and opens a session. */
  static async connect(endpoint: string, options: ConnectOptions = {}): Promise<BridgeClient> {
    const client = new BridgeClient(endpoint, options);
    try {
      const hello = await client.request('hello', { versions: [...PROTOCOL_VERSIONS], client: options.client ?? '@mmsb/julia-bridge' });
      client.session = hello.session as bigint;
      client.limits = hello.limits as unknown as Limits;
      client.shmDir = hello.shmDir as string;
      client.pub = (hello.pub as string | null) ?? null;
      client.server = hello.server as string;
      client.#packing = typeof client.limits.maxPackedRequests === 'number' ? client.limits.maxPackedRequests : 0;
      const every = hello.heartbeatMs as number;
      client.#heartbeat = setInterval(() => {
        if (Date.now() - client.#lastSent >= every) client.ping().catch(() => undefined);
      }, every);
      client.#heartbeat.unref();
    } catch (error) {
      client.#shut();
      throw error;
    }
    return client;
  }

  async #receive(): Promise<void> {
    try {
      // receive() directly: the socket's async iterator wraps each message in one more promise.
      while (!this.#dealer.closed) {
        const frames = await this.#dealer.receive();
        const body = this.#signer.open(frames);
        if (body === undefined) continue;
        let message: unknown;
        try {
          message = decode(body);
        } catch {
          continue;
        }
        // A packed response: the bodies of the responses to a packed message's members.
        if (Array.isArray(message)) for (const member of message as unknown[]) this.#answer(member);
        else this.#settle(message);
      }
    } catch {
      // The socket closed.
    }
  }

  #answer(member: unknown): void {
    if (!(member instanceof Uint8Array)) return;
    try {
      this.#settle(decode(member));
    } catch {
      // Not a response: nothing to settle.
    }
  }

  #settle(response: unknown): void {
    if (!isMap(response) || typeof response.rid !== 'bigint') return;
    const rid = Number(response.rid);
    const pending = this.#pending.get(rid);
    if (pending === undefined) return;
    this.#pending.delete(rid);
    if (response.ok === true) {
      this.#count(pending, response);
      pending.resolve(response);
    } else {
      const code = typeof response.code === 'string' && knownCodes.has(response.code) ? (response.code as ErrorCode) : ErrorCode.INTERNAL;
      pending.reject(new MmsbError(code, String(response.message)));
    }
  }

  #count(pending: Pending, response: Fields): void {
    if ((pending.op === 'create' || pending.op === 'open') && typeof response.handle === 'bigint') {
      this.#held.set(response.handle, (this.#held.get(response.handle) ?? 0) + 1);
    }
    for (const handle of pending.releasing ?? []) this.#letGo(handle);
  }

  /** Takes one reference off `handle`; false when this client holds none. */
  #letGo(handle: bigint): boolean {
    const count = this.#held.get(handle);
    if (count === undefined) return false;
    if (count > 1) this.#held.set(handle, count - 1);
    else this.#held.delete(handle);
    return true;
  }

  /** Sends one request and resolves to its response's fields (rejects with the server's error). */
  request(op: string, args: { readonly [key: string]: Encodable } = {}): Promise<Fields> {
    if (this.#closed) return Promise.reject(new MmsbError(ErrorCode.BUS_CLOSED, 'the client is closed'));
    const rid = this.#nextRid++;
    const release = this.#releases.length > 0 && op !== 'hello' ? this.#releases.splice(0) : undefined;
    let body: Uint8Array;
    let failure: MmsbError | undefined;
    try {
      body = encodeRequest(PROTOCOL_VERSION, rid, op, args, release);
      const largest = this.limits?.maxMessageBytes ?? Infinity;
      // The server would answer it with rid nil, which settles no request: it would wait for its timeout.
      if (body.length > largest)
        failure = new MmsbError(ErrorCode.MESSAGE_TOO_LARGE, `a request of ${body.length} bytes; the largest is ${largest}`);
    } catch (error) {
      failure = new MmsbError(ErrorCode.INVALID_ARGUMENT, `${op} cannot be encoded: ${(error as Error).message}`, { cause: error });
    }
    if (failure !== undefined) {
      // Only this request fails: the releases it would have carried go with the next one.
      if (release !== undefined) this.#releases.unshift(...release);
      return Promise.reject(failure);
    }
    return new Promise<Fields>((resolve, reject) => {
      this.#lastSent = Date.now();
      // Insertion order is sending order, so the sweep stops at the first request still in time.
      const releasing = op === 'release' ? handlesOf(args.handles) : undefined;
      this.#pending.set(rid, { op, releasing, resolve, reject, sentAt: this.#lastSent });
      if (this.#queue.push(body) === 1) queueMicrotask(this.#flush);
    });
  }

  /** Sends this turn's requests: alone, or packed in runs the server's limits allow. */
  readonly #flush = (): void => {
    const queue = this.#queue;
    this.#queue = [];
    if (this.#closed) return;
    const messages = queue.length === 1 || this.#packing < 2 ? queue : packRuns(queue, this.#packing, this.limits!.maxMessageBytes, false);
    for (const body of messages) this.#outbox.send(this.#signer.frames(body));
  };

  ping(): Promise<Fields> {
    return this.request('ping');
  }

  async createPage(options: {
    readonly size: number;
    readonly location?: Location;
    readonly memory?: PageMemory;
    readonly metadata?: { readonly [key: string]: Encodable };
  }): Promise<PageHandle> {
    return handleFields(await this.request('create', { ...options }));
  }

  async openPage(page: number | bigint): Promise<PageDetails> {
    const fields = await this.request('open', { page: new U64(page) });
    return { ...handleFields(fields), location: fields.location as Location, memory: fields.memory as PageMemory };
  }

  async info(handle: bigint): Promise<PageDetails & { readonly metadata: Fields }> {
    const fields = await this.request('info', { handle: new U64(handle) });
    return {
      ...handleFields({ ...fields, handle }),
      location: fields.location as Location,
      memory: fields.memory as PageMemory,
      metadata: fields.metadata as Fields,
    };
  }

  /** Releases handles now, in one request; resolves to the number freed. */
  async release(handles: readonly bigint[]): Promise<number> {
    const freed = (await this.request('release', { handles: handles.map((handle) => new U64(handle)) })).released as number;
    // Views of the mappings stay valid; the mappings go when nothing refers to them.
    for (const handle of handles) this.#readFiles.delete(handle);
    return freed;
  }

  /**
   * Queues a release, sent with the next request (what a finalizer does). A
   * handle this client does not hold (released already, or never its own)
   * is ignored: a bad entry would fail the whole list, and with it the
   * request that carries it.
   */
  releaseLater(handle: bigint): void {
    if (!this.#letGo(handle)) return;
    this.#releases.push(handle);
    this.#readFiles.delete(handle);
  }

  async delete(handle: bigint): Promise<number> {
    return (await this.request('delete', { handle: new U64(handle) })).lsn as number;
  }

  async write(handle: bigint, payload: DeltaPayload, options: WriteOptions = {}): Promise<{ epoch: number; lsn: number }> {
    const fields = payloadFields(payload);
    const big = payload.kind !== 'ranges' && payload.bytes.length > (this.limits?.maxInlineBytes ?? Infinity);
    let file: string | undefined;
    if (payload.kind !== 'ranges' && (options.viaShm ?? big)) {
      file = `c${process.pid}-${this.#nextFile++}`;
      writeFileSync(join(this.shmDir, file), payload.bytes, { mode: 0o600 });
      fields.bytes = undefined;
      fields.shm = { name: file, offset: 0, length: payload.bytes.length };
    }
    try {
      const response = await this.request('write', {
        handle: new U64(handle),
        ...fields,
        ...(options.expectEpoch === undefined ? {} : { expectEpoch: options.expectEpoch }),
      });
      return { epoch: response.epoch as number, lsn: response.lsn as number };
    } finally {
      if (file !== undefined) rmSync(join(this.shmDir, file), { force: true });
    }
  }

  /** Many deltas in one request, all or none. */
  async batch(
    deltas: readonly { readonly handle: bigint; readonly payload: DeltaPayload; readonly expectEpoch?: number }[],
  ): Promise<{ count: number; lsn: number }> {
    const response = await this.request('batch', {
      deltas: deltas.map((delta) => ({
        handle: new U64(delta.handle),
        ...payloadFields(delta.payload),
        ...(delta.expectEpoch === undefined ? {} : { expectEpoch: delta.expectEpoch }),
      })),
    });
    return { count: response.count as number, lsn: response.lsn as number };
  }

  /**
   * Reads a page (or a range) into a new array; large reads come through
   * the handle's shared-memory file, mapped here, with one copy out of it.
   */
  async read(handle: bigint, options: ReadOptions = {}): Promise<{ epoch: number; bytes: Uint8Array }> {
    const { epoch, bytes, mapped } = await this.#read(handle, options);
    return { epoch, bytes: mapped ? bytes.slice() : bytes };
  }

  /**
   * Reads without a copy where the bytes come through shared memory: the
   * array is a view of the handle's mapped read file, valid until the next
   * read of the same handle rewrites it (copy what you keep). The mapping
   * itself stays valid, even after the handle is released.
   */
  async readView(handle: bigint, options: ReadOptions = {}): Promise<{ epoch: number; bytes: Uint8Array }> {
    const { epoch, bytes } = await this.#read(handle, options);
    return { epoch, bytes };
  }

  async #read(handle: bigint, options: ReadOptions): Promise<{ epoch: number; bytes: Uint8Array; mapped: boolean }> {
    const response = await this.request('read', { handle: new U64(handle), ...options });
    const epoch = response.epoch as number;
    if (response.bytes instanceof Uint8Array) return { epoch, bytes: response.bytes, mapped: false };
    const shm = response.shm as { path: string; offset: number; length: number };
    let mapping = this.#readFiles.get(handle);
    if (mapping === undefined) {
      mapping = native.mapSharedFile(shm.path, false);
      this.#readFiles.set(handle, mapping);
    }
    return { epoch, bytes: mapping.subarray(shm.offset, shm.offset + shm.length), mapped: true };
  }

  async addEdge(parent: bigint, child: bigint, kind?: EdgeKind): Promise<number> {
    return (await this.request('edge', { parent: new U64(parent), child: new U64(child), kind })).lsn as number;
  }

  async removeEdge(parent: bigint, child: bigint): Promise<number> {
    return (await this.request('unedge', { parent: new U64(parent), child: new U64(child) })).lsn as number;
  }

  async checkpoint(options: { readonly full?: boolean } = {}): Promise<{ lsn: number; full: boolean }> {
    const response = await this.request('checkpoint', { ...options });
    return { lsn: response.lsn as number, full: response.full as boolean };
  }

  /** The bytes of `handles`' pages as they were after record `lsn`. */
  async replay(
    lsn: number,
    handles: readonly bigint[],
  ): Promise<{ hash: string; pages: { handle: bigint; epoch: number; bytes: Uint8Array }[] }> {
    const response = await this.request('replay', { lsn, handles: handles.map((handle) => new U64(handle)) });
    return { hash: response.hash as string, pages: response.pages as { handle: bigint; epoch: number; bytes: Uint8Array }[] };
  }

  async log(): Promise<{ lsn: number; durableLsn: number; oldestLsn: number; syncs: number }> {
    return (await this.request('log')) as unknown as { lsn: number; durableLsn: number; oldestLsn: number; syncs: number };
  }

  async sync(): Promise<number> {
    return (await this.request('sync')).durableLsn as number;
  }

  async hash(): Promise<string> {
    return (await this.request('hash')).hash as string;
  }

  async stats(): Promise<Fields> {
    return this.request('stats');
  }

  /** Calls `listener` for every commit the server announces; resolves to the function that stops it. */
  async subscribe(listener: (notice: CommitNotice) => void): Promise<() => void> {
    if (this.pub === null) throw new MmsbError(ErrorCode.INVALID_ARGUMENT, 'the server publishes no notifications (started without --pub)');
    const subscriber = new Subscriber({ linger: 0 });
    subscriber.connect(this.pub);
    subscriber.subscribe(TOPIC_COMMIT);
    this.#subscribers.push(subscriber);
    void (async () => {
      try {
        for await (const [, ...frames] of subscriber) {
          const body = this.#signer.open(frames);
          if (body === undefined) continue;
          const notice = decode(body);
          if (isMap(notice)) listener(notice as unknown as CommitNotice);
        }
      } catch {
        // Unsubscribed.
      }
    })();
    return () => subscriber.close();
  }

  /**
   * Releases what is queued, ends the session and closes the sockets.
   * Closing twice is harmless, and so is closing after the session was lost
   * (expired, or the server restarted): there is nothing left to end.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.request('bye');
    } catch (error) {
      if (!(error instanceof MmsbError) || error.code !== ErrorCode.SESSION_UNKNOWN) throw error;
    } finally {
      this.#shut();
    }
  }

  #shut(): void {
    this.#closed = true;
    clearInterval(this.#heartbeat);
    clearInterval(this.#sweeper);
    for (const pending of this.#pending.values()) {
      pending.reject(new MmsbError(ErrorCode.BUS_CLOSED, 'the client is closed'));
    }
    this.#pending.clear();
    for (const subscriber of this.#subscribers) subscriber.close();
    this.#dealer.close();
  }
}

/** The handles of a `release` request's arguments (U64 values, or plain integers). */
function handlesOf(handles: Encodable | undefined): bigint[] {
  if (!Array.isArray(handles)) return [];
  return handles.flatMap((handle) => {
    if (handle instanceof U64) return [handle.value];
    if (typeof handle === 'bigint') return [handle];
    return typeof handle === 'number' && Number.isSafeInteger(handle) ? [BigInt(handle)] : [];
  });
}

/** Connects to `mmsb serve` at `endpoint` and opens a session. */
export function connect(endpoint: string, options: ConnectOptions = {}): Promise<BridgeClient> {
  return BridgeClient.connect(endpoint, options);
}
