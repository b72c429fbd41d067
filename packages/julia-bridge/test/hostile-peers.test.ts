// What a hostile review of the bridge found, each kept as a test: peers of
// the same machine that pipeline against the end of their session, send
// values msgpack libraries would not, or tamper with the shared-memory files.
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { dense, ErrorCode, MmsbError } from '@mmsb/bus';
import { afterEach, describe, expect, it } from 'vitest';

import { connect } from '../src/client.js';
import { encode, U64 } from '../src/msgpack.js';
import { BridgeServer } from '../src/server.js';
import { RawPeer, startServer, type Running } from './support.js';

const running: Running[] = [];
afterEach(async () => {
  for (const started of running.splice(0)) await started.stop();
});

async function serve(options: Parameters<typeof startServer>[0] = {}): Promise<Running> {
  const started = await startServer(options);
  running.push(started);
  return started;
}

describe('hostile peers', () => {
  it('a create pipelined with bye does not leave a handle behind', async () => {
    const { server } = await serve({ fsync: 'always' });
    const peer = new RawPeer(server.endpoint);
    try {
      await peer.request({ v: 1, rid: 1, op: 'hello', versions: [1] });
      await peer.send(encode({ v: 1, rid: 2, op: 'create', size: 8 }));
      await peer.send(encode({ v: 1, rid: 3, op: 'bye' }));
      await peer.send(encode({ v: 1, rid: 4, op: 'ping' }));
      const responses = [await peer.receive(), await peer.receive(), await peer.receive()];
      const byRid = new Map(responses.map((response) => [response.rid, response]));
      expect(byRid.get(2n)).toMatchObject({ ok: true });
      expect(byRid.get(3n)).toMatchObject({ ok: true, released: 1 });
      expect(byRid.get(4n)).toMatchObject({ ok: false, code: ErrorCode.SESSION_UNKNOWN });
      expect(server.stats().handles).toBe(0);
    } finally {
      peer.close();
    }
  });

  it('refuses bytes after the value, extension types, non-string and repeated keys, quickly', async () => {
    const { server } = await serve({ memory: true });
    const peer = new RawPeer(server.endpoint);
    try {
      const request = encode({ v: 1, rid: 1, op: 'ping', pad: new Uint8Array(8 << 20) });
      const started = Date.now();
      const bodies = [
        Buffer.concat([request, Uint8Array.of(0)]),
        // {v: 1, rid: 1, op: "ping", x: ext 0x42 (msgpackr's BigInt) of 4 bytes}
        Buffer.from('84a17601a372696401a26f70a470696e67a178d6420000002a', 'hex'),
        // A msgpackr record (ext 0x72 / 0xd4 forms) as the whole request.
        Buffer.from('d47200', 'hex'),
        // {1: 1}
        Buffer.from('810101', 'hex'),
        // {"v": 1, "v": 2, ...}
        Buffer.from('84a17601a17602a372696401a26f70a470696e67', 'hex'),
      ];
      for (const body of bodies) {
        await peer.send(body);
        expect(await peer.receive()).toMatchObject({ rid: null, ok: false, code: ErrorCode.MALFORMED_REQUEST });
      }
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      peer.close();
    }
  });

  it('a shared-memory payload longer than the page is refused before it is read', async () => {
    const { server } = await serve({ memory: true });
    const client = await connect(server.endpoint);
    try {
      const page = await client.createPage({ size: 4 });
      const path = join(client.shmDir, 'huge');
      writeFileSync(path, '');
      truncateSync(path, 1 << 30);
      const error = await client
        .request('write', { handle: new U64(page.handle), form: 'dense', shm: { name: 'huge', length: 1 << 30 } })
        .catch((caught: unknown) => caught as MmsbError);
      expect((error as MmsbError).code).toBe(ErrorCode.SHM_INVALID);
      expect(server.stats().shmBytesRead).toBe(0);
    } finally {
      await client.close();
    }
  });

  it('a read file truncated or replaced by a client is an error for that read, and the server goes on', async () => {
    const { server } = await serve({ memory: true });
    const client = await connect(server.endpoint);
    try {
      const page = await client.createPage({ size: 1 << 20 });
      await client.write(page.handle, dense(new Uint8Array(1 << 20).fill(5)));
      const first = await client.request('read', { handle: new U64(page.handle), via: 'shm' });
      const path = (first.shm as { path: string }).path;
      truncateSync(path, 0);
      const again = await client.read(page.handle, { via: 'shm' });
      expect(again.bytes.length).toBe(1 << 20);
      expect(again.bytes[12345]).toBe(5);
      rmSync(path);
      writeFileSync(`${path}.target`, 'x');
      const { symlinkSync } = await import('node:fs');
      symlinkSync(`${path}.target`, path);
      const refused = await client.read(page.handle, { via: 'shm' }).catch((caught: unknown) => caught as MmsbError);
      expect((refused as MmsbError).code).toBe(ErrorCode.SHM_INVALID);
      expect((await client.ping()).lsn).toBeGreaterThan(0);
    } finally {
      await client.close();
    }
  });

  it('refuses an ipc endpoint another server listens on, and abstract sockets without a key', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'mmsb-two-servers-'));
    const { bus } = await serve({ memory: true });
    const endpoint = `ipc://${directory}/s.sock`;
    const first = await BridgeServer.start({ bus, endpoint, shmRoot: directory });
    try {
      const second = await BridgeServer.start({ bus, endpoint, shmRoot: directory }).catch((caught: unknown) => caught as MmsbError);
      expect((second as MmsbError).code).toBe(ErrorCode.IO_ERROR);
      const client = await connect(first.endpoint);
      expect((await client.ping()).lsn).toBe(0);
      await client.close();
      const abstract = await BridgeServer.start({ bus, endpoint: 'ipc://@mmsb-test', shmRoot: directory }).catch(
        (caught: unknown) => caught as MmsbError,
      );
      expect((abstract as MmsbError).code).toBe(ErrorCode.INVALID_ARGUMENT);
    } finally {
      await first.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
