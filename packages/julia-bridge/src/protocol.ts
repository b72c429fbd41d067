/**
 * Protocol v1's fixed facts: the version, the limits a server announces,
 * and the operations. docs/protocol.md is the specification; this module
 * is where the code names what it says.
 */

/** The protocol versions this package speaks, lowest first. */
export const PROTOCOL_VERSIONS: readonly number[] = [1];

/** The version in every envelope. */
export const PROTOCOL_VERSION = 1;

/** What a server accepts; sent to each client in `hello`. */
export interface Limits {
  /** The largest request or response body, in bytes. */
  readonly maxMessageBytes: number;
  /** The most deltas in one `batch`. */
  readonly maxBatchDeltas: number;
  /** Reads above this size go through shared memory unless the client asks for inline. */
  readonly maxInlineBytes: number;
  /** Requests of one session being served at once; beyond it the server stops reading. */
  readonly maxInFlight: number;
  /** The most requests in one packed message (docs/protocol.md, "Packed messages"). */
  readonly maxPackedRequests: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxMessageBytes: 64 * 1024 * 1024,
  maxBatchDeltas: 65_536,
  maxInlineBytes: 1024 * 1024,
  maxInFlight: 1024,
  maxPackedRequests: 1024,
};

/** Timing of liveness: clients ping every `heartbeatMs`; silent sessions expire after `sessionTimeoutMs`. */
export interface Liveness {
  readonly heartbeatMs: number;
  readonly sessionTimeoutMs: number;
}

export const DEFAULT_LIVENESS: Liveness = { heartbeatMs: 1000, sessionTimeoutMs: 10_000 };

/** The operations of protocol v1, in the order docs/protocol.md lists them. */
export const OPERATIONS = [
  'hello',
  'ping',
  'bye',
  'create',
  'open',
  'release',
  'info',
  'delete',
  'write',
  'batch',
  'read',
  'edge',
  'unedge',
  'checkpoint',
  'replay',
  'log',
  'sync',
  'hash',
  'stats',
] as const;

export type Operation = (typeof OPERATIONS)[number];

/** Notification topics of the PUB socket. */
export const TOPIC_COMMIT = 'commit';
export const TOPIC_HEARTBEAT = 'heartbeat';
