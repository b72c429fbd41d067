// Packed messages over real sockets: members served exactly as the same
// requests sent alone (results, errors, ordering, the in-flight limit), the
// TypeScript client packing one turn's requests and not packing for a server
// that does not announce it, and hostile packed messages answered without
// harm to the server or another session.
import { dense, ErrorCode, ranges } from '@mmsb/bus';
import { afterEach, describe, expect, it } from 'vitest';

import { connect, type BridgeClient } from '../src/client.js';
import { decode } from '../src/decode.js';
import { encode, U64, type Encodable } from '../src/msgpack.js';
import { pack } from '../src/packed.js';
import { Signer } from '../src/signing.js';
import { RawPeer, startServer, type Running } from './support.js';

const running: Running[] = [];
const clients: BridgeClient[] = [];
const peers: RawPeer[] = [];

async function serve(options: Parameters<typeof startServer>[0] = {}): Promise<Running> {
  const started = await startServer(options);
  running.push(started);
  return started;
}

function peer(endpoint: string): RawPeer {
  const opened = new RawPeer(endpoint);
  peers.push(opened);
  return opened;
}

afterEach(async () => {
  for (const opened of peers.splice(0)) opened.close();
  for (const opened of clients.splice(0)) await opened.close().catch(() => undefined);
  for (const started of running.splice(0)) await started.stop();
});

const h = (handle: number) => new U64(handle);
const sixteen = Uint8Array.from({ length: 16 }, (_, index) => index);

/**
 * Requests and raw members (valid or not) in the order a client sends them,
 * on a session holding two pages (handles 1 and 2). Each request's outcome
 * depends only on those before it, as it must for pipelined requests too
 * (a request using a handle that a request in flight creates could run
 * before that handle exists).
 */
function script(): Uint8Array[] {
  let rid = 10;
  const r = (op: string, args: Record<string, Encodable> = {}) => encode({ v: 1, rid: new U64(++rid), op, ...args });
  return [
    r('write', { handle: h(1), form: 'dense', bytes: sixteen }),
    r('write', { handle: h(1), form: 'sparse', mask: Uint8Array.of(0x05, 0x80), bytes: Uint8Array.of(1, 2, 3) }),
    r('write', { handle: h(1), form: 'dense', bytes: Uint8Array.of(1) }),
    r('write', { handle: h(1), form: 'dense', bytes: sixteen, expectEpoch: 1 }),
    r('read', { handle: h(1) }),
    r('write', { handle: h(1), form: 'ranges', ranges: [[3, Uint8Array.of(9, 9)]] }),
    Uint8Array.of(0xc1),
    encode({ v: 1, op: 'ping' }),
    r('explode'),
    encode({ v: 2, rid: new U64(++rid), op: 'ping' }),
    r('edge', { parent: h(1), child: h(2) }),
    r('edge', { parent: h(2), child: h(1) }),
    r('batch', {
      deltas: [
        { handle: h(1), form: 'ranges', ranges: [[0, Uint8Array.of(7)]] },
        { handle: h(2), form: 'dense', bytes: sixteen },
      ],
    }),
    r('ping', { release: [h(2)] }),
    r('info', { handle: h(2) }),
    r('release', { handles: [h(1), h(77)] }),
    r('read', { handle: h(999) }),
    r('read', { handle: h(1), offset: 2, length: 8 }),
    r('log'),
    r('hash'),
  ];
}

async function hello(raw: RawPeer): Promise<void> {
  expect((await raw.request({ v: 1, rid: 1, op: 'hello', versions: [1] })).ok).toBe(true);
}

/** A session with two 16-byte pages, handles 1 and 2. */
async function twoPages(raw: RawPeer): Promise<void> {
  await hello(raw);
  for (const rid of [2, 3]) expect((await raw.request({ v: 1, rid, op: 'create', size: 16 })).handle).toBe(BigInt(rid - 1));
}

/** The members of a packed response, decoded. */
function members(response: unknown): unknown[] {
  expect(Array.isArray(response)).toBe(true);
  return (response as Uint8Array[]).map((member) => decode(member));
}

describe('packed messages', () => {
  it('serve each member exactly as the same request sent alone', async () => {
    const requests = script();
    const alone = await serve({ memory: true });
    const separate = peer(alone.server.endpoint);
    await twoPages(separate);
    const expected: unknown[] = [];
    for (const request of requests) {
      await separate.send(request);
      const [body] = await separate.socket.receive();
      expected.push(decode(body!));
    }

    const together = await serve({ memory: true });
    const packed = peer(together.server.endpoint);
    await twoPages(packed);
    await packed.send(pack(requests));
    const [body] = await packed.socket.receive();
    const answered = members(decode(body!));

    expect(answered).toEqual(expected);
    expect(together.bus.stateHash()).toBe(alone.bus.stateHash());
    const codes = answered.map((response) => (response as { code?: string }).code ?? 'ok');
    expect(codes).toContain(ErrorCode.MALFORMED_REQUEST);
    expect(codes).toContain(ErrorCode.DELTA_SIZE_MISMATCH);
    expect(codes).toContain(ErrorCode.HANDLE_UNKNOWN);
    const { requests: served, errors } = alone.server.stats();
    expect(together.server.stats()).toMatchObject({ packedMessages: 1, requests: served, errors });
  });

  it('keep the in-flight limit between members, and answer in member order', async () => {
    const { server, bus } = await serve({ fsync: 'always', limits: { maxInFlight: 2 } });
    const raw = peer(server.endpoint);
    await hello(raw);
    expect((await raw.request({ v: 1, rid: 2, op: 'create', size: 64 })).ok).toBe(true);
    const writes = Array.from({ length: 40 }, (_, index) =>
      encode({ v: 1, rid: 100 + index, op: 'write', handle: h(1), form: 'ranges', ranges: [[index, Uint8Array.of(index + 1)]] }),
    );
    await raw.send(pack(writes));
    const [body] = await raw.socket.receive();
    const answered = members(decode(body!)) as { rid: bigint; ok: boolean; lsn: number }[];
    expect(answered.map((response) => Number(response.rid))).toEqual(writes.map((_, index) => 100 + index));
    expect(answered.every((response) => response.ok)).toBe(true);
    expect(answered.map((response) => response.lsn)).toEqual(answered.map((_, index) => answered[0]!.lsn + index));
    expect([...bus.read(1).subarray(0, 40)]).toEqual(Array.from({ length: 40 }, (_, index) => index + 1));
  });

  it('answer in several packed responses, in member order, when the responses exceed maxMessageBytes together', async () => {
    const { server } = await serve({ memory: true, limits: { maxMessageBytes: 4096 } });
    const raw = peer(server.endpoint);
    await hello(raw);
    expect((await raw.request({ v: 1, rid: 2, op: 'create', size: 1500 })).ok).toBe(true);
    await raw.send(pack(Array.from({ length: 5 }, (_, index) => encode({ v: 1, rid: 10 + index, op: 'read', handle: h(1) }))));
    const sizes: number[] = [];
    const rids: number[] = [];
    while (rids.length < 5) {
      const [body] = await raw.socket.receive();
      expect(body!.length).toBeLessThanOrEqual(4096 + 16);
      const answered = members(decode(body!)) as { rid: bigint; bytes: Uint8Array }[];
      sizes.push(answered.length);
      for (const response of answered) {
        expect(response.bytes).toHaveLength(1500);
        rids.push(Number(response.rid));
      }
    }
    expect(sizes).toEqual([2, 2, 1]);
    expect(rids).toEqual([10, 11, 12, 13, 14]);
  });

  it('end and open sessions member by member', async () => {
    const { server } = await serve({ memory: true });
    const raw = peer(server.endpoint);
    const r = (rid: number, op: string, args: Record<string, Encodable> = {}) => encode({ v: 1, rid, op, ...args });
    await raw.send(pack([r(1, 'ping'), r(2, 'hello', { versions: [1] }), r(3, 'create', { size: 8 }), r(4, 'bye'), r(5, 'ping')]));
    const [body] = await raw.socket.receive();
    const outcomes = members(decode(body!)).map((response) => {
      const { ok, code } = response as { ok: boolean; code?: string };
      return ok ? 'ok' : code;
    });
    expect(outcomes).toEqual([ErrorCode.SESSION_UNKNOWN, 'ok', 'ok', 'ok', ErrorCode.SESSION_UNKNOWN]);
    expect(server.stats()).toMatchObject({ sessions: 0, handles: 0 });
  });

  it('are refused whole when they are not 1 to maxPackedRequests binaries, and never touch another session', async () => {
    const { server, bus } = await serve({ memory: true, limits: { maxMessageBytes: 4096 } });
    const victim = await connect(server.endpoint);
    clients.push(victim);
    const page = await victim.createPage({ size: 16 });
    await victim.write(page.handle, dense(sixteen));
    const hash = bus.stateHash();

    const attacker = peer(server.endpoint);
    await hello(attacker);
    const stolen = new U64(page.handle);
    const r = (rid: number, op: string, args: Record<string, Encodable> = {}) => encode({ v: 1, rid, op, ...args });
    await attacker.send(
      pack([
        r(2, 'read', { handle: stolen }),
        r(3, 'write', { handle: stolen, form: 'dense', bytes: new Uint8Array(16) }),
        r(4, 'release', { handles: [stolen] }),
        r(5, 'ping', { release: [stolen] }),
        r(6, 'info', { handle: new U64(2n ** 60n) }),
        pack([r(7, 'ping')]),
      ]),
    );
    const [body] = await attacker.socket.receive();
    expect(members(decode(body!)).map((response) => (response as { code: string }).code)).toEqual([
      ErrorCode.HANDLE_FOREIGN,
      ErrorCode.HANDLE_FOREIGN,
      ErrorCode.HANDLE_FOREIGN,
      ErrorCode.HANDLE_FOREIGN,
      ErrorCode.ID_UNREPRESENTABLE,
      ErrorCode.MALFORMED_REQUEST,
    ]);

    const tiny = Uint8Array.of(0x80);
    const refused: [Uint8Array, ErrorCode][] = [
      [Uint8Array.of(0x90), ErrorCode.MALFORMED_REQUEST],
      [pack(Array.from({ length: 1025 }, () => tiny)), ErrorCode.BATCH_TOO_LARGE],
      [Uint8Array.of(0xdd, 0xff, 0xff, 0xff, 0xff), ErrorCode.BATCH_TOO_LARGE],
      [Uint8Array.of(0x92, 0xc4, 0x01, 0x80, 0x01), ErrorCode.MALFORMED_REQUEST],
      [Uint8Array.of(0x91, 0xc6, 0xff, 0xff, 0xff, 0xff, 0x80), ErrorCode.MALFORMED_REQUEST],
      [Uint8Array.of(0x91, 0xc4), ErrorCode.MALFORMED_REQUEST],
      [Uint8Array.of(...pack([r(8, 'ping')]), 0xc0), ErrorCode.MALFORMED_REQUEST],
      [pack(Array.from({ length: 40 }, () => new Uint8Array(200))), ErrorCode.MESSAGE_TOO_LARGE],
    ];
    for (const [message, code] of refused) {
      await attacker.send(message);
      expect(await attacker.receive(), code).toMatchObject({ rid: null, ok: false, code });
    }

    expect((await attacker.request({ v: 1, rid: 9, op: 'ping' })).ok).toBe(true);
    expect(bus.stateHash()).toBe(hash);
    expect([...(await victim.read(page.handle)).bytes]).toEqual([...sixteen]);
    // Every refused message but the one too large to be read at all was a packed message.
    expect(server.stats()).toMatchObject({ handles: 1, packedMessages: refused.length });
  });

  it('are refused as a plain request that is not a map by a server given maxPackedRequests 0', async () => {
    const { server, bus } = await serve({ memory: true, limits: { maxPackedRequests: 0 } });
    const raw = peer(server.endpoint);
    await hello(raw);
    const hash = bus.stateHash();
    for (const message of [pack([encode({ v: 1, rid: 2, op: 'create', size: 8 })]), Uint8Array.of(0x90)]) {
      await raw.send(message);
      expect(await raw.receive()).toMatchObject({ rid: null, ok: false, code: ErrorCode.MALFORMED_REQUEST });
    }
    expect((await raw.request({ v: 1, rid: 3, op: 'ping' })).ok).toBe(true);
    expect(bus.stateHash()).toBe(hash);
    expect(server.stats()).toMatchObject({ handles: 0, packedMessages: 0 });
  });

  it('a signed server takes them signed whole and drops them unsigned', async () => {
    const key = Buffer.from('packed key');
    const { server } = await serve({ memory: true, key });
    const c = await connect(server.endpoint, { key });
    clients.push(c);
    const answers = await Promise.all(Array.from({ length: 50 }, () => c.ping()));
    expect(answers).toHaveLength(50);
    expect(server.stats().packedMessages).toBeGreaterThan(0);

    const raw = peer(server.endpoint);
    const hello = encode({ v: 1, rid: 1, op: 'hello', versions: [1] });
    await raw.send(new Signer(key).frames(pack([hello, encode({ v: 1, rid: 2, op: 'ping' })])));
    const [signature, body] = await raw.socket.receive();
    expect(new Signer(key).open([signature!, body!])).toBeDefined();
    expect(members(decode(body!)).map((response) => (response as { ok: boolean }).ok)).toEqual([true, true]);
    const dropped = server.stats().droppedFrames;
    await raw.send([pack([encode({ v: 1, rid: 3, op: 'ping' })])]);
    await raw.send(new Signer(key).frames(encode({ v: 1, rid: 4, op: 'ping' })));
    expect(decode((await raw.socket.receive())[1]!)).toMatchObject({ rid: 4n, ok: true });
    expect(server.stats().droppedFrames).toBe(dropped + 1);
  });
});

describe('the client packs', () => {
  it("one turn's requests into packed messages, served in the order they were issued", async () => {
    const { server, bus } = await serve({ memory: true, limits: { maxPackedRequests: 64 } });
    const c = await connect(server.endpoint);
    clients.push(c);
    const page = await c.createPage({ size: 8 });
    const before = server.stats();
    const writes = await Promise.all(
      Array.from({ length: 300 }, (_, index) => c.write(page.handle, ranges([{ offset: index % 8, bytes: Uint8Array.of(index) }]))),
    );
    expect(writes.map((write) => write.lsn)).toEqual(writes.map((_, index) => writes[0]!.lsn + index));
    // Byte k holds the last write at offset k: index 296 + k, or 288 + k where 296 + k is not below 300.
    expect([...bus.read(1)]).toEqual(Array.from({ length: 8 }, (_, k) => (296 + k < 300 ? 296 + k : 288 + k) & 0xff));
    const after = server.stats();
    expect(after.requests - before.requests).toBe(300);
    // 300 requests of one turn, at most 64 to a message: 5 packed messages.
    expect(after.packedMessages - before.packedMessages).toBe(5);
    const failed = await Promise.allSettled([c.ping(), c.read(999n), c.ping()]);
    expect(failed.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('around a request that cannot be encoded: it alone is rejected, and the releases it carried go with the next', async () => {
    const { server } = await serve({ memory: true });
    const c = await connect(server.endpoint);
    clients.push(c);
    const page = await c.createPage({ size: 8 });
    c.releaseLater(page.handle);
    const outcomes = await Promise.allSettled([c.request('ping', { bad: -1n }), c.ping(), c.ping()]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    expect((outcomes[0] as PromiseRejectedResult).reason).toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
    expect(server.stats()).toMatchObject({ handles: 0, handlesFreed: 1 });
  });

  it('around a request larger than maxMessageBytes: it alone is rejected, at once, with MESSAGE_TOO_LARGE', async () => {
    const { server } = await serve({ memory: true, limits: { maxMessageBytes: 4096 } });
    const c = await connect(server.endpoint, { timeoutMs: 1000 });
    clients.push(c);
    const outcomes = await Promise.allSettled([c.ping(), c.request('ping', { pad: new Uint8Array(5000) }), c.ping()]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: ErrorCode.MESSAGE_TOO_LARGE });
  });

  it('nothing for a server that does not announce packing', async () => {
    const { server } = await serve({ memory: true, limits: { maxPackedRequests: 0 } });
    const c = await connect(server.endpoint);
    clients.push(c);
    const answers = await Promise.all(Array.from({ length: 100 }, () => c.ping()));
    expect(answers).toHaveLength(100);
    expect(server.stats()).toMatchObject({ packedMessages: 0, requests: 101 });
  });
});
