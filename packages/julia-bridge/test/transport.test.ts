// The server's request socket: the addon's ROUTER is the one served where
// libzmq loads; clients waiting before the server starts are answered; and a
// signal that interrupts a libzmq call (a profiler's, many times a second)
// loses no request and stalls nothing.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { Bus } from '@mmsb/bus';
import { native } from '@mmsb/core-native';
import { afterEach, describe, expect, it } from 'vitest';
import { Dealer } from 'zeromq';

import { encode } from '../src/msgpack.js';
import { BridgeServer } from '../src/server.js';
import { RawPeer, startServer, TRANSPORTS, type Running } from './support.js';

const running: Running[] = [];
afterEach(async () => {
  for (const started of running.splice(0)) await started.stop();
});

async function serve(): Promise<Running> {
  const started = await startServer({ memory: true });
  running.push(started);
  return started;
}

/**
 * PEERS DEALERs in a process of their own (the profiler's signals stay in
 * the server's), each saying hello and then pinging PINGS times, one ping in
 * flight; prints `answered <n>`, how many answers were `ok: true` (a line of
 * its own: whatever else a library prints stays apart; not through
 * console.log, which colours numbers where FORCE_COLOR is set, as under nx).
 * The requests are plain msgpack maps written out byte by byte.
 */
const PEERS = 32;
const PINGS = 300;
const PINGING = `
import { Dealer } from 'zeromq';
const [endpoint, peers, pings] = process.argv.slice(1);
const text = (s) => [0xa0 | s.length, ...Buffer.from(s)];
const hello = Uint8Array.from([0x84, ...text('v'), 1, ...text('rid'), 0, ...text('op'), ...text('hello'), ...text('versions'), 0x91, 1]);
const ping = (rid) => Uint8Array.from([0x83, ...text('v'), 1, ...text('rid'), 0xcd, rid >> 8, rid & 0xff, ...text('op'), ...text('ping')]);
const ok = Buffer.from([...text('ok'), 0xc3]);
const answered = await Promise.all(Array.from({ length: Number(peers) }, async () => {
  const socket = new Dealer({ linger: 0 });
  socket.connect(endpoint);
  await socket.send(hello);
  await socket.receive();
  let count = 0;
  for (let rid = 1; rid <= Number(pings); rid++) {
    await socket.send(ping(rid));
    const [body] = await socket.receive();
    if (body.includes(ok)) count += 1;
  }
  socket.close();
  return count;
}));
process.stdout.write('answered ' + answered.reduce((sum, count) => sum + count, 0) + '\\n');
`;

describe('the request socket', () => {
  it('is the addon ROUTER where libzmq loads (the set-up installs libzmq)', async () => {
    expect(native.nativeRouterUnavailable()).toBeNull();
    const { server } = await serve();
    expect(server.transport).toBe('native');
  });

  it('hands over frames small and large byte for byte, and refuses replies whose frames are not bytes', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'mmsb-bridge-router-'));
    const batches: Buffer[][][] = [];
    const router = native.NativeRouter.bind(
      `ipc://${directory}/router`,
      { maxMessageBytes: 1 << 20, sendHighWaterMark: 100, lingerMs: 0 },
      (messages) => batches.push(messages),
    );
    const dealer = new Dealer({ linger: 0 });
    try {
      dealer.connect(router.endpoint);
      router.ready();
      // One frame copied into JavaScript's heap, one past the 64 KiB copied, one empty.
      const frames = [Buffer.from('small'), Buffer.alloc(100_000, 7), Buffer.alloc(0)];
      await dealer.send(frames);
      while (batches.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      const [identity, ...received] = batches[0]![0]!;
      expect(received).toEqual(frames);
      for (const bad of [[[identity, 'text']], [[identity, 42]], [identity], 'no array']) {
        expect(() => router.send(bad as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
      }
      router.send([[identity!, ...received]]);
      expect(await dealer.receive()).toEqual(frames);
    } finally {
      dealer.close();
      router.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it.each(TRANSPORTS)('on the %s socket, answers clients that were waiting before it started', async (transport) => {
    const directory = mkdtempSync(join(tmpdir(), 'mmsb-bridge-early-'));
    const endpoint = `ipc://${directory}/requests`;
    const peers = Array.from({ length: 5 }, () => new RawPeer(endpoint));
    const bus = Bus.memory();
    try {
      await Promise.all(peers.map((peer) => peer.send(encode({ v: 1, rid: 1, op: 'hello', versions: [1] }))));
      // A pub socket makes start() turn the event loop after the request socket is bound.
      const server = await BridgeServer.start({ bus, endpoint, pub: `ipc://${directory}/notices`, shmRoot: directory, transport });
      try {
        const answers = await Promise.all(peers.map((peer) => peer.receive()));
        expect(answers.map((answer) => answer.ok)).toEqual(peers.map(() => true));
      } finally {
        await server.close();
      }
    } finally {
      for (const peer of peers) peer.close();
      await bus.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('answers every request of 32 peers while a CPU profiler interrupts it thousands of times a second', { timeout: 60_000 }, async () => {
    const { server } = await serve();
    const profiler = new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.setSamplingInterval', { interval: 20 });
    await profiler.post('Profiler.start');
    try {
      const { stdout, stderr } = await promisify(execFile)(
        process.execPath,
        ['--input-type=module', '-e', PINGING, server.endpoint, String(PEERS), String(PINGS)],
        { cwd: new URL('..', import.meta.url), timeout: 30_000 },
      );
      expect(/^answered (\d+)$/m.exec(stdout)?.[1], `the peers printed:\n${stdout}\n${stderr}`).toBe(String(PEERS * PINGS));
    } finally {
      await profiler.post('Profiler.stop');
      profiler.disconnect();
    }
  });
});
