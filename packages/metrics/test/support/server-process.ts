// Starts test/fixture/serve.mjs (a process serving metrics over a real Bus)
// and drives it: one JSON command per line in, one JSON reply per line out.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import type { Bus } from '@mmsb/bus';

import { parseExposition, type Family } from './exposition.js';

const script = fileURLToPath(new URL('../fixture/serve.mjs', import.meta.url));

export interface ServerState {
  readonly stats: ReturnType<Bus['stats']>;
  /** Log syncs the bus's group commit completed. */
  readonly syncs: number;
}

export class ServerProcess {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #replies: AsyncIterator<string>;
  #stderr = '';
  url = '';

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.#child = child;
    child.stderr.on('data', (chunk: Buffer) => (this.#stderr += chunk.toString()));
    this.#replies = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }

  /** Starts a server on a fresh data directory; `flags` as serve.mjs takes them. */
  static async start(...flags: string[]): Promise<ServerProcess> {
    const directory = join(mkdtempSync(join(tmpdir(), 'mmsb-metrics-')), 'data');
    const server = new ServerProcess(spawn(process.execPath, [script, directory, ...flags], { stdio: 'pipe' }));
    server.url = (JSON.parse(await server.#reply()) as { url: string }).url;
    return server;
  }

  async #reply(): Promise<string> {
    const next = await this.#replies.next();
    if (next.done === true) throw new Error(`the metrics server exited: ${this.#stderr}`);
    return next.value;
  }

  async command<T = unknown>(op: string, fields: Record<string, unknown> = {}): Promise<T> {
    this.#child.stdin.write(`${JSON.stringify({ op, ...fields })}\n`);
    return JSON.parse(await this.#reply()) as T;
  }

  state(): Promise<ServerState> {
    return this.command<ServerState>('state');
  }

  /** GETs /metrics and parses it strictly. */
  async scrape(): Promise<Map<string, Family>> {
    const response = await fetch(this.url);
    if (response.status !== 200) throw new Error(`scrape: HTTP ${response.status}`);
    expectContentType(response.headers.get('content-type'));
    return parseExposition(await response.text());
  }

  async stop(): Promise<void> {
    await this.command('exit');
    await new Promise((resolve) => (this.#child.exitCode === null ? this.#child.once('exit', resolve) : resolve(undefined)));
  }
}

function expectContentType(type: string | null): void {
  if (type?.startsWith('text/plain; version=0.0.4') !== true) throw new Error(`scrape: content type ${type}`);
}
