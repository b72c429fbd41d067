// The TypeScript client against a real server over real sockets: every
// operation, sessions and handles, shared memory, notifications, signing.
import { existsSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { dense, ErrorCode, MmsbError, ranges, sparseFromBytes } from '@mmsb/bus';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { connect, type BridgeClient, type CommitNotice } from '../src/client.js';
import type { Transport } from '../src/request-socket.js';
import { BridgeServer } from '../src/server.js';
import { RawPeer, startServer, TRANSPORTS, until, type Running } from './support.js';
import { encode, U64 } from '../src/msgpack.js';

const running: Running[] = [];
const clients: BridgeClient[] = [];
/** The request socket of the servers the current test starts. */
let transport: Transport = 'native';

async function serve(options: Parameters<typeof startServer>[0] = {}): Promise<Running> {
  const started = await startServer({ transport, ...options });
  running.push(started);
  return started;
}

async function client(endpoint: string, options: Parameters<typeof connect>[1] = {}): Promise<BridgeClient> {
  const opened = await connect(endpoint, options);
  clients.push(opened);
  return opened;
}

async function refusal(promise: Promise<unknown>): Promise<MmsbError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(MmsbError);
    return error as MmsbError;
  }
  throw new Error('expected a refusal');
}

afterEach(async () => {
  for (const opened of clients.splice(0)) await opened.close().catch(() => undefined);
  for (const started of running.splice(0)) await started.stop();
});

describe.each(TRANSPORTS)('the bridge client, server on the %s request socket', (served) => {
  beforeEach(() => {
    transport = served;
  });

  it('creates, writes every form, reads, and sees what the bus sees', async () => {
    const { bus, server } = await serve();
    const c = await client(server.endpoint);
    const page = await c.createPage({ size: 32, metadata: { name: 'x' } });
    expect(page).toMatchObject({ page: 1, size: 32, epoch: 0 });
    expect(typeof page.handle).toBe('bigint');
    await c.write(page.handle, dense(Uint8Array.from({ length: 32 }, (_, i) => i)));
    await c.write(page.handle, sparseFromBytes(32, [[3, 0xff]]));
    const last = await c.write(page.handle, ranges([{ offset: 30, bytes: Uint8Array.of(9, 9) }]), { expectEpoch: 2 });
    expect(last.epoch).toBe(3);
    const read = await c.read(page.handle);
    expect(Buffer.from(read.bytes)).toEqual(Buffer.from(bus.read(1)));
    expect((await c.info(page.handle)).metadata).toEqual({ name: 'x' });
    expect(await c.hash()).toBe(bus.stateHash());
    expect((await c.log()).lsn).toBe(bus.lsn);
  });

  it('batches all or none, and edges propagate as on the bus', async () => {
    const { bus, server } = await serve();
    const c = await client(server.endpoint);
    const a = await c.createPage({ size: 4 });
    const b = await c.createPage({ size: 4 });
    const before = bus.stateHash();
    const bad = await refusal(
      c.batch([
        { handle: a.handle, payload: dense(Uint8Array.of(1, 2, 3, 4)) },
        { handle: b.handle, payload: dense(Uint8Array.of(1)) },
      ]),
    );
    expect(bad.code).toBe(ErrorCode.DELTA_SIZE_MISMATCH);
    expect(bus.stateHash()).toBe(before);
    expect(
      await c.batch([
        { handle: a.handle, payload: dense(Uint8Array.of(1, 2, 3, 4)) },
        { handle: b.handle, payload: dense(Uint8Array.of(5, 6, 7, 8)) },
      ]),
    ).toMatchObject({ count: 2 });
    await c.addEdge(a.handle, b.handle);
    expect((await refusal(c.addEdge(b.handle, a.handle))).code).toBe(ErrorCode.GRAPH_CYCLE);
    bus.recompute(b.page, 'copy');
    await c.write(a.handle, dense(Uint8Array.of(4, 3, 2, 1)));
    expect([...(await c.read(b.handle)).bytes]).toEqual([4, 3, 2, 1]);
    await c.removeEdge(a.handle, b.handle);
    expect(bus.children(a.page)).toEqual([]);
  });

  it('replays a past state and checkpoints', async () => {
    const { server } = await serve();
    const c = await client(server.endpoint);
    const page = await c.createPage({ size: 2 });
    const first = await c.write(page.handle, dense(Uint8Array.of(1, 1)));
    await c.write(page.handle, dense(Uint8Array.of(2, 2)));
    expect((await c.checkpoint({ full: true })).full).toBe(true);
    const past = await c.replay(first.lsn, [page.handle]);
    expect(past.pages).toHaveLength(1);
    expect([...past.pages[0]!.bytes]).toEqual([1, 1]);
    expect(past.pages[0]!.epoch).toBe(1);
    expect((await refusal(c.replay(10_000, [page.handle]))).code).toBe(ErrorCode.LSN_OUT_OF_RANGE);
  });

  it('counts references per handle, frees at zero, and never reuses a handle id', async () => {
    const { server } = await serve();
    const c = await client(server.endpoint);
    const page = await c.createPage({ size: 8 });
    const again = await c.openPage(page.page);
    expect(again.handle).toBe(page.handle);
    expect((await c.stats()).session).toEqual({ handles: 1, references: 2 });
    expect(await c.release([page.handle])).toBe(0);
    expect(await c.release([page.handle])).toBe(1);
    expect((await refusal(c.read(page.handle))).code).toBe(ErrorCode.HANDLE_UNKNOWN);
    const reopened = await c.openPage(page.page);
    expect(reopened.handle).toBeGreaterThan(page.handle);
    // Too many releases in one list: all or none.
    expect((await refusal(c.release([reopened.handle, reopened.handle]))).code).toBe(ErrorCode.HANDLE_UNKNOWN);
    expect((await c.stats()).session).toEqual({ handles: 1, references: 1 });
  });

  it('sends queued releases with the next request', async () => {
    const { server } = await serve();
    const c = await client(server.endpoint);
    const pages = await Promise.all([1, 2, 3].map(() => c.createPage({ size: 8 })));
    for (const page of pages) c.releaseLater(page.handle);
    await c.ping();
    expect(server.stats().handles).toBe(0);
  });

  it('drops a queued release of a handle it does not hold, so that the request carrying the queue still runs', async () => {
    const { server } = await serve();
    const c = await client(server.endpoint);
    const [a, b, w] = await Promise.all([1, 2, 3].map(() => c.createPage({ size: 8 })));
    await c.release([a!.handle]);
    c.releaseLater(a!.handle);
    c.releaseLater(b!.handle);
    c.releaseLater(987_654n);
    expect((await c.write(w!.handle, dense(new Uint8Array(8).fill(7)))).lsn).toBeGreaterThan(0);
    expect((await c.stats()).session).toEqual({ handles: 1, references: 1 });
    // A handle opened twice holds two references: two queued releases are sent, a third is not.
    await c.openPage(w!.page);
    for (let i = 0; i < 3; i++) c.releaseLater(w!.handle);
    await c.ping();
    expect(server.stats().handles).toBe(0);
  });

  it('refuses a handle of another session, and ids it cannot represent', async () => {
    const { server } = await serve();
    const one = await client(server.endpoint);
    const two = await client(server.endpoint);
    const page = await one.createPage({ size: 8 });
    expect((await refusal(two.read(page.handle))).code).toBe(ErrorCode.HANDLE_FOREIGN);
    expect((await refusal(two.release([page.handle]))).code).toBe(ErrorCode.HANDLE_FOREIGN);
    expect((await refusal(two.write(page.handle, dense(new Uint8Array(8))))).code).toBe(ErrorCode.HANDLE_FOREIGN);
    expect((await refusal(two.read(2n ** 63n))).code).toBe(ErrorCode.ID_UNREPRESENTABLE);
    expect((await refusal(two.openPage(2n ** 64n - 1n))).code).toBe(ErrorCode.ID_UNREPRESENTABLE);
    // The other session can open the page itself.
    const own = await two.openPage(page.page);
    expect(own.handle).not.toBe(page.handle);
  });

  it('moves a 64 MiB page byte-exact through shared memory both ways', async () => {
    const { bus, server } = await serve();
    const c = await client(server.endpoint);
    const size = 64 * 1024 * 1024;
    const page = await c.createPage({ size });
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i += 4096) bytes.fill(i / 4096, i, i + 4096);
    bytes[size - 1] = 0xee;
    await c.write(page.handle, dense(bytes));
    expect(server.stats().shmBytesRead).toBe(size);
    const read = await c.read(page.handle);
    expect(server.stats().shmBytesWritten).toBe(size);
    expect(Buffer.compare(read.bytes, bytes)).toBe(0);
    expect(Buffer.compare(bus.view(page.page), bytes)).toBe(0);
  });

  it('takes a shared-memory payload once: a file changed after the request cannot change what is logged', async () => {
    const { bus, server } = await serve();
    const c = await client(server.endpoint);
    const page = await c.createPage({ size: 4 });
    writeFileSync(join(c.shmDir, 'payload'), Uint8Array.of(1, 2, 3, 4));
    await c.request('write', { handle: new U64(page.handle), form: 'dense', shm: { name: 'payload', length: 4 } });
    writeFileSync(join(c.shmDir, 'payload'), Uint8Array.of(9, 9, 9, 9));
    expect([...bus.read(page.page)]).toEqual([1, 2, 3, 4]);
    const both = { handle: new U64(page.handle), form: 'dense', bytes: Uint8Array.of(5, 5, 5, 5), shm: { name: 'payload', length: 4 } };
    expect((await refusal(c.request('write', both))).code).toBe(ErrorCode.INVALID_ARGUMENT);
    symlinkSync(join(c.shmDir, 'payload'), join(c.shmDir, 'link'));
    const link = await refusal(c.request('write', { handle: new U64(page.handle), form: 'dense', shm: { name: 'link', length: 4 } }));
    expect(link).toMatchObject({ code: ErrorCode.SHM_INVALID, message: expect.stringContaining('symbolic link') });
    expect([...bus.read(page.page)]).toEqual([1, 2, 3, 4]);
    for (const [name, length] of [
      ['../escape', 4],
      ['h1', 4],
      ['missing', 4],
      ['payload', 5],
    ] as const) {
      const error = await refusal(c.request('write', { handle: new U64(page.handle), form: 'dense', shm: { name, length } }));
      expect(error.code, name).toBe(ErrorCode.SHM_INVALID);
    }
  });

  it('expires a silent session: its handles and shared-memory files are freed', async () => {
    const { server } = await serve({ liveness: { heartbeatMs: 50, sessionTimeoutMs: 300 } });
    const peer = new RawPeer(server.endpoint);
    try {
      const hello = await peer.request({ v: 1, rid: 1, op: 'hello', versions: [1] });
      const created = await peer.request({ v: 1, rid: 2, op: 'create', size: 1 << 21 });
      await peer.request({ v: 1, rid: 3, op: 'read', handle: created.handle as bigint, via: 'shm' });
      expect(readdirSync(hello.shmDir as string)).toEqual([`h${created.handle}`]);
      expect(server.stats().handles).toBe(1);
      await until(() => server.stats().sessions === 0);
      expect(server.stats().handles).toBe(0);
      expect(server.stats().sessionsExpired).toBe(1);
      expect(existsSync(hello.shmDir as string)).toBe(false);
      expect((await peer.request({ v: 1, rid: 4, op: 'ping' })).code).toBe(ErrorCode.SESSION_UNKNOWN);
    } finally {
      peer.close();
    }
  });

  it('keeps an active client alive with heartbeats', async () => {
    const { server } = await serve({ liveness: { heartbeatMs: 50, sessionTimeoutMs: 300 } });
    const c = await client(server.endpoint);
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect((await c.ping()).lsn).toBe(0);
    expect(server.stats().sessionsExpired).toBe(0);
  });

  it('publishes every commit with its pages, LSNs and source', async () => {
    const { bus, server } = await serve();
    const c = await client(server.endpoint);
    const notices: CommitNotice[] = [];
    await c.subscribe((notice) => notices.push(notice));
    const page = await c.createPage({ size: 4 });
    // A SUB socket joins asynchronously: write until the first notice arrives.
    await until(() => {
      void c.write(page.handle, dense(Uint8Array.of(1, 2, 3, 4)));
      return notices.length > 0;
    });
    const local = await bus.createPage({ size: 4 });
    await bus.apply({ pageId: local, payload: dense(new Uint8Array(4)) });
    await until(() => notices.some((notice) => notice.source === 'user'));
    const fromBridge = notices.find((notice) => notice.source === 'bridge')!;
    expect(fromBridge.pages).toEqual([BigInt(page.page)]);
    expect(fromBridge.lastLsn).toBeGreaterThanOrEqual(fromBridge.firstLsn);
    expect(notices.find((notice) => notice.source === 'user')!.pages).toEqual([BigInt(local)]);
  });

  it('signs with a key: unsigned or wrongly signed requests are dropped and counted', async () => {
    const key = Buffer.from('a secret shared by server and client');
    const { server } = await serve({ key });
    const c = await client(server.endpoint, { key });
    expect((await c.createPage({ size: 4 })).page).toBe(1);
    const unsigned = await client(server.endpoint, { timeoutMs: 300 }).catch((error: unknown) => error as MmsbError);
    expect((unsigned as MmsbError).code).toBe(ErrorCode.BRIDGE_TIMEOUT);
    const forged = await client(server.endpoint, { timeoutMs: 300, key: Buffer.from('a guess') }).catch(
      (error: unknown) => error as MmsbError,
    );
    expect((forged as MmsbError).code).toBe(ErrorCode.BRIDGE_TIMEOUT);
    expect(server.stats().droppedFrames).toBe(2);
    expect(server.stats().sessions).toBe(1);
  });

  it('refuses to serve off loopback without a key, and anything but ipc or tcp', async () => {
    const { bus } = await serve();
    for (const endpoint of ['tcp://0.0.0.0:0', 'tcp://*:0', 'tcp://10.1.2.3:5555', 'inproc://x', 'ws://127.0.0.1:1', '', 'tcp://[::1]:0']) {
      const error = await refusal(BridgeServer.start({ bus, endpoint, transport }));
      expect(error.code, endpoint).toBe(ErrorCode.INVALID_ARGUMENT);
    }
    const keyed = await refusal(BridgeServer.start({ bus, endpoint: 'tcp://[::]:0', key: Uint8Array.of(1, 2, 3), transport }));
    expect(keyed).toMatchObject({ code: ErrorCode.INVALID_ARGUMENT, message: expect.stringContaining('IPv6') });
    const local = await BridgeServer.start({ bus, endpoint: 'tcp://localhost:*', transport });
    try {
      expect(local.endpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
      const c = await connect(local.endpoint);
      expect((await c.ping()).lsn).toBe(0);
      await c.close();
    } finally {
      await local.close();
    }
  });

  it('answers MESSAGE_TOO_LARGE beyond the limit and keeps serving', async () => {
    const { server } = await serve({ limits: { maxMessageBytes: 1024 } });
    const peer = new RawPeer(server.endpoint);
    try {
      await peer.request({ v: 1, rid: 1, op: 'hello', versions: [1] });
      const response = await peer.request({ v: 1, rid: 2, op: 'create', size: 4, metadata: { blob: new Uint8Array(1500) } });
      expect(response.code).toBe(ErrorCode.MESSAGE_TOO_LARGE);
      const created = await peer.request({ v: 1, rid: 3, op: 'create', size: 2048 });
      const inline = await peer.request({ v: 1, rid: 4, op: 'read', handle: created.handle as bigint, via: 'inline' });
      expect(inline.code).toBe(ErrorCode.MESSAGE_TOO_LARGE);
      expect((await peer.request({ v: 1, rid: 5, op: 'ping' })).ok).toBe(true);
    } finally {
      peer.close();
    }
  });

  it('takes the protocol version in any integer encoding, and names a missing one', async () => {
    const { server } = await serve();
    const peer = new RawPeer(server.endpoint);
    try {
      await peer.request({ v: 1, rid: 1, op: 'hello', versions: [1] });
      expect(await peer.request({ v: new U64(1), rid: 2, op: 'ping' })).toMatchObject({ ok: true, rid: 2n });
      // {v: int64 1, rid: 3, op: "ping"}, as a client that writes every integer as int64 sends it.
      const int64 = Uint8Array.of(0x83, 0xa1, 0x76, 0xd3, 0, 0, 0, 0, 0, 0, 0, 1, 0xa3, 0x72, 0x69, 0x64, 0x03, 0xa2, 0x6f, 0x70);
      await peer.send(Buffer.concat([int64, Uint8Array.of(0xa4, 0x70, 0x69, 0x6e, 0x67)]));
      expect(await peer.receive()).toMatchObject({ ok: true, rid: 3n });
      const missing = await peer.request({ rid: 4, op: 'ping' });
      expect(missing).toMatchObject({ ok: false, code: ErrorCode.PROTOCOL_VERSION });
      expect(missing.message).toMatch(/^no protocol version \(v\); this server speaks 1$/);
      expect(await peer.request({ v: new U64(2), rid: 5, op: 'ping' })).toMatchObject({ code: ErrorCode.PROTOCOL_VERSION });
    } finally {
      peer.close();
    }
  });

  it('a request in a frame of its own: a message of several frames is answered MALFORMED_REQUEST', async () => {
    const { server } = await serve();
    const peer = new RawPeer(server.endpoint);
    try {
      await peer.send([encode({ v: 1, rid: 1, op: 'hello', versions: [1] }), Buffer.from('extra')]);
      expect(await peer.receive()).toMatchObject({ rid: null, ok: false, code: ErrorCode.MALFORMED_REQUEST });
      expect((await peer.request({ v: 1, rid: 2, op: 'hello', versions: [1] })).rid).toBe(2n);
    } finally {
      peer.close();
    }
  });
});
