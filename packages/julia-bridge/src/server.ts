/**
 * The bridge server: a ROUTER socket for requests, a PUB socket for commit
 * notifications and heartbeats, sessions with handle tables, and the
 * shared-memory directory, over one `Bus` that the caller owns.
 *
 * Requests are served as they arrive: an operation runs synchronously up
 * to its bus call, so a session's writes are applied in arrival order, and
 * its response is sent when the bus acknowledges (pipelining). The members
 * of a packed message are served the same way, one after another, and
 * answered together. A request that cannot be decoded still gets an error
 * response when it can be routed; frames that cannot be authenticated are
 * dropped and counted.
 */
import { ErrorCode, MmsbError, VERSION, type Bus, type CommitEvent } from '@mmsb/bus';
import { Publisher } from 'zeromq';

import { BridgeCounters, type BridgeSnapshot } from './counters.js';
import { checkEndpoint, checkIpcFree } from './endpoints.js';
import { array, field, id, isMap, optional, show, type Fields } from './fields.js';
import { decode } from './decode.js';
import { encode, encodeSuccess, U64, type Encodable } from './msgpack.js';
import { operations, type Context, type Result } from './operations.js';
import { Outbox } from './outbox.js';
import { isPacked, packRuns, unpack } from './packed.js';
import {
  DEFAULT_LIMITS,
  DEFAULT_LIVENESS,
  PROTOCOL_VERSION,
  PROTOCOL_VERSIONS,
  TOPIC_COMMIT,
  TOPIC_HEARTBEAT,
  type Limits,
  type Liveness,
} from './protocol.js';
import { bindRequestSocket, defaultTransport, type RequestSocket, type Transport } from './request-socket.js';
import { Sessions, type Session } from './sessions.js';
import { SharedMemory } from './shared-memory.js';
import { Signer } from './signing.js';

export interface ServerOptions {
  /** The bus to serve; the server never closes it. */
  readonly bus: Bus;
  /** Where requests arrive: `ipc://…` or `tcp://host:port` (`tcp://127.0.0.1:*` picks a port). */
  readonly endpoint: string;
  /** Where notifications go; none when absent. */
  readonly pub?: string | undefined;
  /** The auth key: every message is then signed (docs/protocol.md); required off loopback. */
  readonly key?: Uint8Array | undefined;
  readonly limits?: Partial<Limits> | undefined;
  readonly liveness?: Partial<Liveness> | undefined;
  /** Where the shared-memory directory goes (default /dev/shm, else the temp directory). */
  readonly shmRoot?: string | undefined;
  /** Failures that no client can be told of (a bug, a failed notification). */
  readonly onError?: ((error: unknown) => void) | undefined;
  /**
   * The request socket's implementation: `native` (the addon's, the default
   * where libzmq loads) or `zeromq` (zeromq.js). Both speak the same protocol.
   */
  readonly transport?: Transport | undefined;
}

const MALFORMED = (message: string) => new MmsbError(ErrorCode.MALFORMED_REQUEST, message);

/** A request id: any msgpack unsigned integer. */
function requestId(value: unknown): bigint | number | undefined {
  if (typeof value === 'bigint' && value >= 0n && value < 1n << 64n) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  return undefined;
}

/** The responses to a packed message's members, sent together once every member is answered. */
class PackedReplies {
  readonly identity: Buffer;
  readonly bodies: Uint8Array[];
  remaining: number;

  constructor(identity: Buffer, members: number) {
    this.identity = identity;
    this.bodies = new Array<Uint8Array>(members);
    this.remaining = members;
  }
}

/** Where a response goes: to a connection alone, or into its place among a packed message's. */
interface Route {
  readonly identity: Buffer;
  /** The connection's routing id as a session key. */
  readonly peer: string;
  readonly packed?: PackedReplies;
  readonly index?: number;
}

export class BridgeServer {
  readonly #bus: Bus;
  #router: RequestSocket | undefined;
  readonly #publisher: Publisher | undefined;
  readonly #notices: Outbox | undefined;
  readonly #signer: Signer;
  readonly #limits: Limits;
  readonly #liveness: Liveness;
  readonly #memory: SharedMemory;
  readonly #sessions = new Sessions();
  readonly #counters: BridgeCounters;
  readonly #context: Context;
  readonly #onError: (error: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #stopCommits: (() => void) | undefined;
  #serving: Promise<void> | undefined;
  #inFlight = 0;
  #waiters: (() => void)[] = [];
  #closing: Promise<void> | undefined;
  /** The endpoints as bound (a `*` port resolved). */
  endpoint = '';
  pubEndpoint: string | undefined;

  private constructor(options: ServerOptions, memory: SharedMemory) {
    this.#bus = options.bus;
    this.#signer = new Signer(options.key);
    this.#limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.#liveness = { ...DEFAULT_LIVENESS, ...options.liveness };
    this.#memory = memory;
    this.#counters = new BridgeCounters(memory);
    this.#context = { bus: this.#bus, sessions: this.#sessions, limits: this.#limits, counters: this.#counters };
    this.#onError = options.onError ?? (() => undefined);
    this.#publisher = options.pub === undefined ? undefined : new Publisher({ sendHighWaterMark: 65_536, linger: 0 });
    // zeromq.js allows one send in progress per socket, even on sockets that never block for long.
    this.#notices = this.#publisher === undefined ? undefined : new Outbox(this.#publisher, (error) => this.#onError(error));
  }

  /** Binds the sockets and starts serving. */
  static async start(options: ServerOptions): Promise<BridgeServer> {
    const keyed = options.key !== undefined && options.key.length > 0;
    const endpoint = checkEndpoint(options.endpoint, 'endpoint', keyed);
    const pub = options.pub === undefined ? undefined : checkEndpoint(options.pub, 'pub endpoint', keyed);
    const server = new BridgeServer(options, SharedMemory.create(options.shmRoot));
    let binding = endpoint;
    try {
      await checkIpcFree(endpoint);
      // Twice the limit reaches the server, which answers MESSAGE_TOO_LARGE; beyond, ZeroMQ drops the connection.
      // At most 8,192 replies wait for a client that does not read them (a bound on the memory it can hold); ZeroMQ drops those beyond.
      const socketOptions = { maxMessageBytes: 2 * server.#limits.maxMessageBytes, sendHighWaterMark: 8192, lingerMs: 2000 };
      server.#router = await bindRequestSocket(endpoint, options.transport ?? defaultTransport(), socketOptions, () =>
        server.#counters.dropped('unroutable'),
      );
      server.endpoint = server.#router.endpoint;
      if (server.#publisher !== undefined && pub !== undefined) {
        binding = pub;
        await checkIpcFree(pub);
        await server.#publisher.bind(pub);
        server.pubEndpoint = server.#publisher.lastEndpoint ?? pub;
      }
    } catch (error) {
      server.#router?.close();
      server.#publisher?.close();
      server.#memory.remove();
      if (error instanceof MmsbError) throw error;
      throw new MmsbError(ErrorCode.IO_ERROR, `cannot bind ${binding}: ${(error as Error).message}`, { cause: error });
    }
    server.#stopCommits = server.#bus.onCommit((event) => server.#notifyCommit(event));
    server.#timer = setInterval(() => server.#heartbeat(), server.#liveness.heartbeatMs);
    server.#serving = server.#router.serve((messages) => server.#serve(messages));
    return server;
  }

  /** The bridge's counters (sessions, handles, requests, errors, dropped frames, shared-memory bytes). */
  stats(): BridgeSnapshot {
    return this.#counters.snapshot(this.#sessions);
  }

  /** The request socket's implementation. */
  get transport(): Transport {
    return this.#router!.transport;
  }

  /** The shared-memory directory of this server. */
  get sharedMemoryDirectory(): string {
    return this.#memory.directory;
  }

  /** Serves a batch of messages in order; returns a promise only when it has to wait (a session at its in-flight limit). */
  #serve(messages: Buffer[][], from = 0): Promise<void> | undefined {
    for (let at = from; at < messages.length; at++) {
      const waiting = this.#serveMessage(messages[at]!);
      if (waiting !== undefined) return waiting.then(() => this.#serve(messages, at + 1));
    }
    return undefined;
  }

  #serveMessage(message: Buffer[]): Promise<void> | undefined {
    const [identity, ...frames] = message;
    const body = this.#signer.open(frames);
    if (body === undefined) {
      if (this.#signer.enabled) this.#counters.dropped('unauthenticated');
      else this.#fail({ identity: identity!, peer: '' }, undefined, MALFORMED(`a request is one frame; this message has ${frames.length}`));
      return undefined;
    }
    // latin1 maps each byte to one character: a key as unique as the id, made without hex's doubling.
    const peer = identity!.toString('latin1');
    if (body.length > this.#limits.maxMessageBytes) {
      const error = new MmsbError(
        ErrorCode.MESSAGE_TOO_LARGE,
        `a request of ${body.length} bytes; the largest is ${this.#limits.maxMessageBytes}`,
      );
      this.#fail({ identity: identity!, peer }, undefined, error);
      return undefined;
    }
    // A server given 0 takes no packed message: an array is then a request that is not a map.
    if (!isPacked(body) || this.#limits.maxPackedRequests === 0) {
      return this.#whileFull(this.#received({ identity: identity!, peer }, body));
    }
    this.#counters.packedMessages += 1;
    let members: Uint8Array[];
    try {
      members = unpack(body, this.#limits.maxPackedRequests);
    } catch (error) {
      this.#fail({ identity: identity!, peer }, undefined, error);
      return undefined;
    }
    // Each member as if it had arrived alone in its place, the in-flight limit included.
    const packed = new PackedReplies(identity!, members.length);
    return this.#serveMembers({ identity: identity!, peer, packed }, members, 0);
  }

  #serveMembers(route: Route & { readonly packed: PackedReplies }, members: Uint8Array[], from: number): Promise<void> | undefined {
    for (let index = from; index < members.length; index++) {
      const waiting = this.#whileFull(this.#received({ ...route, index }, members[index]!));
      if (waiting !== undefined) return waiting.then(() => this.#serveMembers(route, members, index + 1));
    }
    return undefined;
  }

  /** Resolves once `session` is below its in-flight limit. */
  async #untilRoom(session: Session): Promise<void> {
    while (this.#full(session)) await this.#settled();
  }

  #whileFull(session: Session | undefined): Promise<void> | undefined {
    return this.#full(session) ? this.#untilRoom(session!) : undefined;
  }

  /** Whether `session` (the one of the request just served, when it is in flight) is at its in-flight limit. */
  #full(session: Session | undefined): boolean {
    return session !== undefined && session.inFlight >= this.#limits.maxInFlight;
  }

  /** Serves one request; returns its session when the request is in flight. */
  #received(route: Route, body: Uint8Array): Session | undefined {
    let rid: bigint | number | undefined;
    try {
      let request: unknown;
      try {
        request = decode(body);
      } catch (error) {
        throw MALFORMED(`the request is not one msgpack value: ${(error as Error).message}`);
      }
      if (!isMap(request)) throw MALFORMED('a request must be a msgpack map');
      rid = requestId(request.rid);
      if (rid === undefined) throw MALFORMED('a request needs rid, an unsigned integer below 2^64');
      const op = request.op;
      if (typeof op !== 'string') throw MALFORMED('a request needs op, a string');
      this.#counters.request(op === 'hello' || op === 'bye' || Object.hasOwn(operations, op) ? op : 'unknown');
      if (op === 'hello') return this.#reply(route, rid, this.#hello(route.peer, request));
      // Any integer encoding: a uint64 or int64 1 decodes to a bigint.
      if (request.v !== PROTOCOL_VERSION && request.v !== BigInt(PROTOCOL_VERSION)) {
        const given = request.v === undefined ? 'no protocol version (v)' : `protocol version ${show(request.v)}`;
        throw new MmsbError(ErrorCode.PROTOCOL_VERSION, `${given}; this server speaks ${PROTOCOL_VERSIONS.join(', ')}`);
      }
      const session = this.#sessions.of(route.peer);
      if (session === undefined || session.ending)
        throw new MmsbError(ErrorCode.SESSION_UNKNOWN, 'no session on this connection: send hello (it may have expired)');
      session.lastSeen = Date.now();
      if (this.#closing !== undefined) throw new MmsbError(ErrorCode.BUS_CLOSED, 'the server is shutting down');
      const handler = Object.hasOwn(operations, op) ? operations[op] : undefined;
      if (handler === undefined && op !== 'bye')
        throw new MmsbError(ErrorCode.UNKNOWN_OPERATION, `no operation ${show(op)} in protocol v1`);
      this.#releaseFirst(session, request);
      if (op === 'bye') {
        // Requests of the session still in flight finish (a create acquires its handle) before the session ends.
        session.ending = true;
        return this.#run(route, rid, session, async () => {
          while (session.inFlight > 1) await this.#settled();
          return { released: this.#sessions.end(session) };
        });
      }
      return this.#run(route, rid, session, () => handler!(this.#context, session, request));
    } catch (error) {
      this.#fail(route, rid, error);
      return undefined;
    }
  }

  #releaseFirst(session: Session, request: Fields): void {
    const release = optional(request, 'release');
    if (release === undefined) return;
    const handles = array(release, 'release').map((handle, index) => id(handle, `release[${index}]`));
    this.#sessions.release(session, handles);
  }

  #hello(peer: string, request: Fields): Result {
    if (this.#closing !== undefined) throw new MmsbError(ErrorCode.BUS_CLOSED, 'the server is shutting down');
    if (this.#sessions.of(peer) !== undefined) {
      throw new MmsbError(ErrorCode.INVALID_ARGUMENT, 'this connection has a session already: send bye before another hello');
    }
    const offered = array(field(request, 'versions'), 'versions');
    const shared = PROTOCOL_VERSIONS.filter((version) => offered.some((item) => item === version || item === BigInt(version)));
    if (shared.length === 0) {
      throw new MmsbError(
        ErrorCode.PROTOCOL_VERSION,
        `none of the versions offered is spoken here; this server speaks ${PROTOCOL_VERSIONS.join(', ')}`,
      );
    }
    const session = this.#sessions.open(peer, (id) => this.#memory.session(id), Date.now());
    return {
      session: new U64(session.id),
      protocol: Math.max(...shared),
      server: VERSION,
      heartbeatMs: this.#liveness.heartbeatMs,
      sessionTimeoutMs: this.#liveness.sessionTimeoutMs,
      shmDir: session.files.directory,
      pub: this.pubEndpoint ?? null,
      limits: { ...this.#limits },
    };
  }

  /** Runs an operation, counted in flight (from before it starts) until it settles. */
  #run(route: Route, rid: bigint | number, session: Session, operation: () => Result | Promise<Result>): Session | undefined {
    session.inFlight += 1;
    this.#inFlight += 1;
    let result: Result | Promise<Result>;
    try {
      result = operation();
    } catch (error) {
      this.#settle(session);
      throw error;
    }
    if (!(result instanceof Promise)) {
      this.#settle(session);
      this.#reply(route, rid, result);
      return undefined;
    }
    // One reaction for both outcomes (a `.finally` would cost another promise per request).
    result.then(
      (value) => {
        try {
          this.#reply(route, rid, value);
        } finally {
          this.#settle(session);
        }
      },
      (error: unknown) => {
        try {
          this.#fail(route, rid, error);
        } finally {
          this.#settle(session);
        }
      },
    );
    return session;
  }

  #settle(session: Session): void {
    session.inFlight -= 1;
    this.#inFlight -= 1;
    if (this.#waiters.length > 0) for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Resolves when a request in flight settles. */
  #settled(): Promise<void> {
    return new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  #reply(route: Route, rid: bigint | number, result: Result): undefined {
    const body = encodeSuccess(PROTOCOL_VERSION, rid, result);
    if (body.length > this.#limits.maxMessageBytes) {
      this.#fail(route, rid, new MmsbError(ErrorCode.MESSAGE_TOO_LARGE, `the response would be ${body.length} bytes`));
      return undefined;
    }
    this.#send(route, body);
    return undefined;
  }

  #fail(route: Route, rid: bigint | number | undefined, error: unknown): void {
    const failure =
      error instanceof MmsbError
        ? error
        : new MmsbError(
            ErrorCode.INTERNAL,
            `internal error in the bridge (please report it): ${(error as Error)?.message ?? String(error)}`,
          );
    if (failure.code === ErrorCode.INTERNAL) this.#onError(error);
    this.#counters.error(failure.code);
    const body = encode({
      v: PROTOCOL_VERSION,
      rid: rid === undefined ? null : new U64(rid),
      ok: false,
      code: failure.code,
      message: failure.message,
    });
    this.#send(route, body);
  }

  #send(route: Route, body: Uint8Array): void {
    const { packed } = route;
    if (packed === undefined) return this.#transmit(route.identity, body);
    packed.bodies[route.index!] = body;
    packed.remaining -= 1;
    if (packed.remaining > 0) return;
    for (const message of packRuns(packed.bodies, packed.bodies.length, this.#limits.maxMessageBytes, true)) {
      this.#transmit(packed.identity, message);
    }
  }

  #transmit(identity: Buffer, body: Uint8Array): void {
    // A ROUTER drops what it cannot route (a peer gone) or queue.
    this.#router!.send([identity, ...this.#signer.frames(body)]);
  }

  #publish(topic: string, body: { readonly [key: string]: Encodable }): void {
    this.#notices?.send([Buffer.from(topic), ...this.#signer.frames(encode(body))]);
  }

  #notifyCommit(event: CommitEvent): void {
    if (this.#publisher === undefined) return;
    this.#publish(TOPIC_COMMIT, {
      v: PROTOCOL_VERSION,
      pages: event.pageIds.map((page) => new U64(page)),
      firstLsn: event.firstLsn,
      lastLsn: event.lastLsn,
      source: event.source,
    });
  }

  #heartbeat(): void {
    const expired = this.#sessions.expire(Date.now() - this.#liveness.sessionTimeoutMs);
    this.#counters.sessionsExpired += expired.length;
    this.#publish(TOPIC_HEARTBEAT, { v: PROTOCOL_VERSION, time: Date.now(), lsn: this.#bus.lsn, sessions: this.#sessions.size });
  }

  /**
   * Stops serving: requests in flight are answered (new ones get
   * BUS_CLOSED), then the sockets close and every session ends. The bus
   * stays open; its owner closes (and so syncs) it.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    clearInterval(this.#timer);
    this.#stopCommits?.();
    while (this.#inFlight > 0) await this.#settled();
    await this.#router!.drained();
    this.#router!.close();
    this.#publisher?.close();
    await this.#serving?.catch(() => undefined);
    for (const session of [...this.#sessions]) this.#sessions.end(session);
    this.#memory.remove();
  }
}
