/**
 * The operations of protocol v1 other than those that open and end
 * sessions (the server's own). Each reads its arguments through `fields`,
 * calls the bus once, and returns the response's fields; an error thrown
 * is an MmsbError whose code goes back to the client.
 */
import { ErrorCode, MmsbError, type Bus, type Delta, type DeltaPayload, type PageId } from '@mmsb/bus';

import type { BridgeCounters } from './counters.js';
import { array, boolean, bytes, field, id, integer, map, oneOf, optional, string, type Fields } from './fields.js';
import { U64, type Encodable } from './msgpack.js';
import type { Limits } from './protocol.js';
import type { Session, Sessions } from './sessions.js';

/** What an operation may use. */
export interface Context {
  readonly bus: Bus;
  readonly sessions: Sessions;
  readonly limits: Limits;
  readonly counters: BridgeCounters;
}

export type Result = { readonly [key: string]: Encodable };

export type Handler = (context: Context, session: Session, request: Fields) => Result | Promise<Result>;

function page(context: Context, session: Session, request: Fields, key: string): PageId {
  return context.sessions.resolve(session, id(field(request, key), key));
}

/**
 * A binary given inline, or as a range of a file in the session's
 * shared-memory directory, which is read only when it fits the page (whose
 * size is asked for then only: an inline write needs no call for it).
 */
function payloadBytes(session: Session, request: Fields, key: string, pageSize: () => number): Uint8Array {
  const shm = optional(request, 'shm');
  if (shm === undefined) return bytes(field(request, key), key);
  if (optional(request, key) !== undefined) {
    throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `a write carries its bytes either as ${key} or through shm, not both`);
  }
  const reference = map(shm, 'shm');
  return session.files.take(
    string(field(reference, 'name'), 'shm.name'),
    integer(optional(reference, 'offset') ?? 0, 'shm.offset'),
    integer(field(reference, 'length'), 'shm.length'),
    pageSize(),
  );
}

function payload(session: Session, request: Fields, allowShm: boolean, pageSize: () => number): DeltaPayload {
  if (!allowShm && optional(request, 'shm') !== undefined) {
    throw new MmsbError(ErrorCode.INVALID_ARGUMENT, 'deltas of a batch carry their bytes inline (shm is for write)');
  }
  switch (oneOf(field(request, 'form'), ['dense', 'sparse', 'ranges'], 'form')) {
    case 'dense':
      return { kind: 'dense', bytes: payloadBytes(session, request, 'bytes', pageSize) };
    case 'sparse':
      return { kind: 'sparse', mask: bytes(field(request, 'mask'), 'mask'), bytes: payloadBytes(session, request, 'bytes', pageSize) };
    case 'ranges':
      if (optional(request, 'shm') !== undefined) {
        throw new MmsbError(ErrorCode.INVALID_ARGUMENT, 'ranges carry their bytes inline (shm is for dense and sparse writes)');
      }
      return {
        kind: 'ranges',
        ranges: array(field(request, 'ranges'), 'ranges').map((entry, index) => {
          const pair = array(entry, `ranges[${index}]`);
          if (pair.length !== 2) throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `ranges[${index}] must be [offset, bytes]`);
          return { offset: integer(pair[0], `ranges[${index}][0]`), bytes: bytes(pair[1], `ranges[${index}][1]`) };
        }),
      };
  }
}

function delta(context: Context, session: Session, request: Fields, allowShm: boolean): Delta {
  const expectEpoch = optional(request, 'expectEpoch');
  const pageId = page(context, session, request, 'handle');
  return {
    pageId,
    payload: payload(session, request, allowShm, () => context.bus.page(pageId).size),
    source: 'bridge',
    expectEpoch: expectEpoch === undefined ? undefined : integer(expectEpoch, 'expectEpoch'),
  };
}

/**
 * The LSN that `change` (a bus call just made, which logs before it first
 * awaits) logged, once it is acknowledged. Read before awaiting: requests
 * pipelined behind it may log more meanwhile.
 */
async function logged<T>(bus: Bus, change: Promise<T>): Promise<{ lsn: number; value: T }> {
  const lsn = bus.lsn;
  return { lsn, value: await change };
}

function pageFields(bus: Bus, pageId: PageId): Result {
  const info = bus.page(pageId);
  return { page: new U64(pageId), size: info.size, epoch: info.epoch, location: info.location, memory: info.memory };
}

function tooLarge(what: string, size: number, limits: Limits): MmsbError {
  return new MmsbError(
    ErrorCode.MESSAGE_TOO_LARGE,
    `${what} of ${size} bytes would exceed the largest message (${limits.maxMessageBytes} bytes); read through shared memory`,
  );
}

export const operations: Readonly<Record<string, Handler>> = {
  ping: ({ bus }) => ({ lsn: bus.lsn, durableLsn: bus.durableLsn }),

  async create({ bus, sessions }, session, request) {
    const metadata = optional(request, 'metadata');
    const location = optional(request, 'location');
    const memory = optional(request, 'memory');
    const pageId = await bus.createPage({
      size: integer(field(request, 'size'), 'size'),
      ...(location === undefined ? {} : { location: string(location, 'location') as never }),
      ...(memory === undefined ? {} : { memory: string(memory, 'memory') as never }),
      ...(metadata === undefined ? {} : { metadata: map(metadata, 'metadata') }),
    });
    return { handle: new U64(sessions.acquire(session, pageId)), ...pageFields(bus, pageId) };
  },

  open({ bus, sessions }, session, request) {
    const pageId = id(field(request, 'page'), 'page');
    const fields = pageFields(bus, pageId);
    return { handle: new U64(sessions.acquire(session, pageId)), ...fields };
  },

  release({ sessions }, session, request) {
    const handles = array(field(request, 'handles'), 'handles').map((handle, index) => id(handle, `handles[${index}]`));
    return { released: sessions.release(session, handles).length };
  },

  info(context, session, request) {
    const pageId = page(context, session, request, 'handle');
    return { ...pageFields(context.bus, pageId), metadata: context.bus.metadata(pageId) as Encodable };
  },

  async delete(context, session, request) {
    const { lsn } = await logged(context.bus, context.bus.releasePage(page(context, session, request, 'handle')));
    return { lsn };
  },

  async write(context, session, request) {
    const applied = await context.bus.apply(delta(context, session, request, true));
    return { epoch: applied.epoch, lsn: applied.lsn };
  },

  async batch(context, session, request) {
    const entries = array(field(request, 'deltas'), 'deltas');
    if (entries.length > context.limits.maxBatchDeltas) {
      throw new MmsbError(ErrorCode.BATCH_TOO_LARGE, `${entries.length} deltas; a batch holds at most ${context.limits.maxBatchDeltas}`);
    }
    const deltas = entries.map((entry, index) => delta(context, session, map(entry, `deltas[${index}]`), false));
    const { lsn, value: count } = await logged(context.bus, context.bus.applyBatch(deltas));
    return { count, lsn };
  },

  read(context, session, request) {
    const { bus, limits } = context;
    const handle = id(field(request, 'handle'), 'handle');
    const pageId = context.sessions.resolve(session, handle);
    const info = bus.page(pageId);
    const offset = integer(optional(request, 'offset') ?? 0, 'offset');
    const lengthField = optional(request, 'length');
    const length = lengthField === undefined ? Math.max(0, info.size - offset) : integer(lengthField, 'length');
    const via = oneOf(optional(request, 'via') ?? 'auto', ['auto', 'inline', 'shm'], 'via');
    if (offset + length > info.size) {
      throw new MmsbError(ErrorCode.RANGE_OUT_OF_BOUNDS, `${offset}+${length} is outside page ${pageId} of ${info.size} bytes`);
    }
    if (via === 'shm' || (via === 'auto' && length > limits.maxInlineBytes)) {
      const bytes = bus.view(pageId).subarray(offset, offset + length);
      const path = session.files.publish(handle, info.size, offset, bytes);
      return { epoch: info.epoch, shm: { path, offset, length } };
    }
    // The server checks the encoded response too; this refuses before copying what cannot fit.
    if (length > limits.maxMessageBytes) throw tooLarge('an inline read', length, limits);
    return { epoch: info.epoch, bytes: bus.read(pageId, { offset, length }) };
  },

  async edge(context, session, request) {
    const parent = page(context, session, request, 'parent');
    const child = page(context, session, request, 'child');
    const kind = optional(request, 'kind');
    const { lsn } = await logged(
      context.bus,
      context.bus.addEdge(parent, child, kind === undefined ? undefined : (string(kind, 'kind') as never)),
    );
    return { lsn };
  },

  async unedge(context, session, request) {
    const parent = page(context, session, request, 'parent');
    const { lsn } = await logged(context.bus, context.bus.removeEdge(parent, page(context, session, request, 'child')));
    return { lsn };
  },

  async checkpoint({ bus }, _session, request) {
    const full = optional(request, 'full');
    const info = await bus.checkpoint({ full: full === undefined ? false : boolean(full, 'full') });
    return { lsn: info.lsn, full: info.baseLsn === 0 };
  },

  async replay(context, session, request) {
    const lsn = integer(field(request, 'lsn'), 'lsn');
    const handles = array(field(request, 'handles'), 'handles').map((handle, index) => id(handle, `handles[${index}]`));
    const pageIds = handles.map((handle) => context.sessions.resolve(session, handle));
    const past = await context.bus.stateAt(lsn);
    let total = 0;
    const pages = handles.map((handle, index) => {
      const pageId = pageIds[index]!;
      const bytes = past.read(pageId);
      total += bytes.length;
      if (total > context.limits.maxMessageBytes) {
        throw new MmsbError(
          ErrorCode.MESSAGE_TOO_LARGE,
          `a replay of ${total} bytes or more would exceed the largest message ` +
            `(${context.limits.maxMessageBytes} bytes); replay fewer handles at a time`,
        );
      }
      return { handle: new U64(handle), epoch: past.page(pageId).epoch, bytes };
    });
    return { lsn, hash: past.stateHash(), pages };
  },

  log: ({ bus }) => ({ lsn: bus.lsn, durableLsn: bus.durableLsn, oldestLsn: bus.oldestLsn, syncs: bus.syncs }),

  async sync({ bus }) {
    return { durableLsn: await bus.sync() };
  },

  hash: ({ bus }) => ({ hash: bus.stateHash() }),

  stats({ bus, sessions, counters }, session) {
    return {
      bus: bus.stats() as unknown as Encodable,
      bridge: counters.snapshot(sessions) as unknown as Encodable,
      session: { handles: session.handles.size, references: session.references },
    };
  },
};
