// A real Prometheus server (Debian's `prometheus`, installed by tools/dev.sh)
// started on loopback with a temporary configuration and storage, scraping
// one target every second; the tests ask its HTTP query API.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface QueryResult {
  readonly status: string;
  readonly data: {
    readonly resultType: string;
    readonly result: readonly { readonly metric: Record<string, string>; readonly value: [number, string] }[];
  };
}

function prometheusBinary(): string {
  try {
    return execFileSync('sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('prometheus is not installed: `bash tools/dev.sh test` installs it (Debian package prometheus)');
  }
}

/** A free loopback port (closed again at once; Prometheus binds it next). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

export class PrometheusServer {
  readonly #child: ChildProcess;
  readonly #base: string;
  #log = '';

  private constructor(child: ChildProcess, base: string) {
    this.#child = child;
    this.#base = base;
    child.stderr?.on('data', (chunk: Buffer) => (this.#log += chunk.toString()));
  }

  /** Starts Prometheus scraping `target` (`http://host:port/metrics`) as job `mmsb`. */
  static async start(target: string): Promise<PrometheusServer> {
    const directory = mkdtempSync(join(tmpdir(), 'mmsb-prometheus-'));
    const { host, pathname } = new URL(target);
    const config = [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'scrape_configs:',
      '  - job_name: mmsb',
      `    metrics_path: ${pathname}`,
      '    static_configs:',
      `      - targets: ['${host}']`,
      '',
    ].join('\n');
    writeFileSync(join(directory, 'prometheus.yml'), config);
    const port = await freePort();
    const child = spawn(
      prometheusBinary(),
      [
        `--config.file=${join(directory, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(directory, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    return new PrometheusServer(child, `http://127.0.0.1:${port}`);
  }

  /** An instant query; `undefined` while the server is not answering yet. */
  async query(expression: string): Promise<QueryResult | undefined> {
    if (this.#child.exitCode !== null) throw new Error(`prometheus exited: ${this.#log}`);
    try {
      const response = await fetch(`${this.#base}/api/v1/query?query=${encodeURIComponent(expression)}`);
      return (await response.json()) as QueryResult;
    } catch {
      return undefined;
    }
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.kill('SIGTERM');
    await exited;
  }
}
