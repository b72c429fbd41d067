// A bounded load test: 64 clients × 10k operations against `mmsb serve`
// with fsync always, then SIGKILL and a restart: no acknowledged write is
// missing, the server's memory stays bounded, and once every client has
// left no handle and no shared-memory file remains. MMSB_LOAD_CLIENTS and
// MMSB_LOAD_OPERATIONS scale it.
import { readdirSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { dense } from '@mmsb/bus';
import { describe, expect, it } from 'vitest';

import { connect, type BridgeClient } from '../src/client.js';
import { serveProcess } from './process.js';

const CLIENTS = Number(process.env.MMSB_LOAD_CLIENTS ?? 64);
const OPERATIONS = Number(process.env.MMSB_LOAD_OPERATIONS ?? 10_000);
/** Requests each client keeps in flight. */
const WINDOW = 16;
const PAGE = 64;

function counterBytes(value: number): Uint8Array {
  const bytes = new Uint8Array(PAGE);
  new DataView(bytes.buffer).setFloat64(0, value, true);
  return bytes;
}

/** One client's run: writes of its counter (every fifth operation a read, every 500th through shared memory). */
async function work(client: BridgeClient, handle: bigint): Promise<{ acknowledged: number; sent: number }> {
  let next = 0;
  let acknowledged = 0;
  const lane = async (): Promise<void> => {
    while (next < OPERATIONS) {
      const operation = next++;
      if (operation % 5 === 4) {
        const read = await client.read(handle, operation % 500 === 499 ? { via: 'shm' } : {});
        expect(read.bytes.length).toBe(PAGE);
      } else {
        await client.write(handle, dense(counterBytes(operation)), {});
        acknowledged = Math.max(acknowledged, operation);
      }
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, lane));
  return { acknowledged, sent: next };
}

describe('load', () => {
  it(`${CLIENTS} clients × ${OPERATIONS} operations, fsync always: nothing acknowledged is lost, nothing is left behind`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mmsb-load-'));
    const args = ['--data', join(dir, 'data'), '--endpoint', `ipc://${dir}/s.sock`, '--pub', 'none', '--fsync', 'always'];
    try {
      const server = await serveProcess(args);
      const rssBefore = server.rss();
      const clients = await Promise.all(Array.from({ length: CLIENTS }, () => connect(server.endpoint, { timeoutMs: 120_000 })));
      const pages = await Promise.all(clients.map((client) => client.createPage({ size: PAGE })));
      const started = Date.now();
      const results = await Promise.all(clients.map((client, index) => work(client, pages[index]!.handle)));
      const seconds = (Date.now() - started) / 1000;
      const rssAfter = server.rss();
      const shmDirectory = dirname(clients[0]!.shmDir);
      await Promise.all(clients.map((client) => client.close()));

      const probe = await connect(server.endpoint);
      const bridge = (await probe.stats()).bridge as Record<string, number>;
      expect(bridge.sessions).toBe(1);
      expect(bridge.handles).toBe(0);
      expect(readdirSync(shmDirectory)).toEqual([readdirSync(shmDirectory).find((name) => probe.shmDir.endsWith(name))]);
      expect(readdirSync(probe.shmDir)).toEqual([]);
      await probe.close();
      process.stdout.write(
        `load: ${CLIENTS * OPERATIONS} operations in ${seconds.toFixed(1)} s (${Math.round((CLIENTS * OPERATIONS) / seconds)}/s); ` +
          `server RSS ${(rssBefore / 2 ** 20).toFixed(0)} MiB before, ${(rssAfter / 2 ** 20).toFixed(0)} MiB after\n`,
      );
      expect(rssAfter - rssBefore).toBeLessThan(256 * 2 ** 20);

      server.child.kill('SIGKILL');
      await server.exited();
      const restarted = await serveProcess(args);
      const reader = await connect(restarted.endpoint);
      for (const [index, page] of pages.entries()) {
        const opened = await reader.openPage(page.page);
        const value = Buffer.from((await reader.read(opened.handle)).bytes).readDoubleLE(0);
        expect(value, `page ${page.page}`).toBeGreaterThanOrEqual(results[index]!.acknowledged);
      }
      await reader.close();
      restarted.child.kill('SIGINT');
      expect(await restarted.exited()).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
