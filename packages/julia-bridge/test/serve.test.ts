// `mmsb serve` as a process: clean shutdown with writes in flight, and its
// refusals at start.
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { dense, ErrorCode, MmsbError } from '@mmsb/bus';
import { afterEach, describe, expect, it } from 'vitest';

import { connect } from '../src/client.js';
import { serveProcess } from './process.js';

const CLI = fileURLToPath(new URL('../../bus/bin/mmsb.js', import.meta.url));
const directories: string[] = [];

function directory(): string {
  const made = mkdtempSync(join(tmpdir(), 'mmsb-serve-'));
  directories.push(made);
  return made;
}

afterEach(() => {
  for (const made of directories.splice(0)) rmSync(made, { recursive: true, force: true });
});

describe('mmsb serve', () => {
  it('Ctrl-C answers what is in flight, syncs, and every acknowledged write is there after a restart', async () => {
    const dir = directory();
    const args = ['--data', join(dir, 'data'), '--endpoint', `ipc://${dir}/s.sock`, '--pub', 'none'];
    const first = await serveProcess(args);
    const client = await connect(first.endpoint, { timeoutMs: 10_000 });
    const page = await client.createPage({ size: 8 });
    let acknowledged = 0;
    let refused = 0;
    const writes = Array.from({ length: 3000 }, (_, index) =>
      client.write(page.handle, dense(new Uint8Array(new BigUint64Array([BigInt(index + 1)]).buffer))).then(
        () => {
          acknowledged = Math.max(acknowledged, index + 1);
        },
        (error: unknown) => {
          expect((error as MmsbError).code).toBe(ErrorCode.BUS_CLOSED);
          refused += 1;
        },
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 30));
    first.child.kill('SIGINT');
    expect(await first.exited()).toBe(0);
    expect(first.output()).toContain('stopped; the log is synced');
    await Promise.allSettled(writes);
    await client.close().catch(() => undefined);
    expect(acknowledged).toBeGreaterThan(0);

    const second = await serveProcess(args);
    const reader = await connect(second.endpoint);
    const opened = await reader.openPage(page.page);
    const value = Number(Buffer.from((await reader.read(opened.handle)).bytes).readBigUInt64LE(0));
    expect(value).toBeGreaterThanOrEqual(acknowledged);
    expect(opened.epoch).toBeGreaterThanOrEqual(acknowledged);
    await reader.close();
    second.child.kill('SIGTERM');
    expect(await second.exited()).toBe(0);
    // Not every write can have been refused: the server answered those in flight.
    expect(refused).toBeLessThan(3000);
  }, 60_000);

  it('refuses a public endpoint without a key, and bad options, with exit codes', async () => {
    const dir = directory();
    const run = (...args: string[]) =>
      promisify(execFile)(process.execPath, [CLI, 'serve', '--data', join(dir, 'data'), ...args]).then(
        () => ({ code: 0, stderr: '' }),
        (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
      );
    const open = await run('--endpoint', 'tcp://0.0.0.0:0');
    expect(open.code).toBe(1);
    expect(open.stderr).toContain('INVALID_ARGUMENT');
    expect(open.stderr).toContain('--key-file');
    expect((await run('--fsync', 'sometimes')).code).toBe(1);
    expect((await run('--heartbeat', 'soon')).code).toBe(1);
    expect((await run('--no-such-option')).code).toBe(2);
  }, 30_000);

  it('prints its endpoints and a client example, and serves a second client after the first leaves', async () => {
    const dir = directory();
    const server = await serveProcess(['--data', ':memory:', '--endpoint', `ipc://${dir}/s.sock`, '--pub', `ipc://${dir}/p.sock`]);
    expect(server.output()).toContain(`notifications  ipc://${dir}/p.sock`);
    expect(server.output()).toContain('using MMSB; bus = MMSB.connect(');
    const one = await connect(server.endpoint);
    const { handle } = await one.createPage({ size: 4 });
    await one.write(handle, dense(Uint8Array.of(1, 2, 3, 4)));
    await one.close();
    const two = await connect(server.endpoint);
    expect((await two.stats()).bridge).toMatchObject({ sessions: 1, handles: 0 });
    await two.close();
    server.child.kill('SIGINT');
    expect(await server.exited()).toBe(0);
  }, 30_000);

  it('with a key: warns of a key file others can read and of a short key, shows the key in its example, and stops on SIGHUP', async () => {
    const dir = directory();
    const keyFile = join(dir, 'key');
    writeFileSync(keyFile, 'short\n', { mode: 0o644 });
    chmodSync(keyFile, 0o644);
    const server = await serveProcess(['--data', join(dir, 'data'), '--endpoint', 'tcp://0.0.0.0:0', '--key-file', keyFile]);
    expect(server.output()).toContain(`the key file ${keyFile} is readable by other users (mode 644)`);
    expect(server.output()).toContain('the key is 5 bytes');
    expect(server.output()).toMatch(/MMSB\.connect\("tcp:\/\/127\.0\.0\.1:\d+"; key = read\(".*key", String\)\)/);
    const c = await connect(server.endpoint.replace('0.0.0.0', '127.0.0.1'), { key: Buffer.from('short') });
    const { handle } = await c.createPage({ size: 4 });
    await c.write(handle, dense(Uint8Array.of(1, 2, 3, 4)));
    server.child.kill('SIGHUP');
    expect(await server.exited()).toBe(0);
    expect(server.output()).toMatch(/stopped; the log is synced through LSN 2/);
  }, 30_000);
});
