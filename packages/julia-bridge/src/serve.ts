/**
 * `mmsb serve`: a bus behind the bridge until Ctrl-C. With no options it
 * serves an embedded default data directory on ipc endpoints in a private
 * run directory. On SIGINT, SIGTERM or SIGHUP (its terminal closed) it stops
 * reading, answers what is in flight, closes the sockets, then closes (and so
 * syncs) the bus.
 */
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { Bus, ErrorCode, MmsbError, VERSION, type FsyncPolicy } from '@mmsb/bus';
import { bridgeFamilies, bridgeReadings, DEFAULT_LISTEN, serveMetrics, type MetricsServer } from '@mmsb/metrics';

import { ownDirectory } from './private-directory.js';
import { DEFAULT_LIVENESS } from './protocol.js';
import { BridgeServer } from './server.js';

/** Writes one line of output. */
export type Print = (line: string) => void;

/** The data directory `mmsb serve` uses when given none. */
export function defaultDataDirectory(): string {
  const base = process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(base, 'mmsb', 'default');
}

/** A private directory for the default ipc endpoints. */
function runDirectory(): string {
  const base = process.env.XDG_RUNTIME_DIR || tmpdir();
  return ownDirectory(join(base, `mmsb-${process.getuid?.() ?? 'user'}`));
}

export const SERVE_HELP = `mmsb serve [options]: serve a bus to other processes (docs/protocol.md)

  --data <dir>             data directory, or :memory: (default ${defaultDataDirectory()})
  --endpoint <endpoint>    requests (ROUTER): ipc://… or tcp://127.0.0.1:<port> (default ipc in a private run directory)
  --pub <endpoint|none>    commit notifications and heartbeats (PUB) (default: ipc beside the default
                           requests; none when --endpoint is given without --pub)
  --fsync <policy>         always | interval | never (default always)
  --key-file <file>        auth key: every message is signed (required for a tcp endpoint off loopback)
  --session-timeout <ms>   a silent session expires after this long (default 10000)
  --heartbeat <ms>         heartbeat period, shorter than the session timeout (default 1000)
  --metrics <host:port>    serve Prometheus metrics at http://<host:port>/metrics (e.g. 127.0.0.1:9464)
  --otlp <url>             also export the metrics over OTLP/HTTP (e.g. http://127.0.0.1:4318/v1/metrics)
  --otlp-interval <ms>     OTLP export period (default 15000; stopping exports once more)`;

function positive(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  const number = /^[0-9]{1,10}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number) || number <= 0 || number > 2 ** 31 - 1) {
    throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `${what} must be a whole number of milliseconds (got ${JSON.stringify(value)})`);
  }
  return number;
}

/** What is weak about a key: a file others can read, or too few bytes to guess at. */
function keyWarnings(path: string | undefined, key: Uint8Array | undefined): string[] {
  if (path === undefined || key === undefined) return [];
  const warnings: string[] = [];
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) warnings.push(`the key file ${path} is readable by other users (mode ${mode.toString(8)}): chmod 600 it`);
  if (key.length < 16) warnings.push(`the key is ${key.length} bytes; use at least 16 random bytes`);
  return warnings;
}

/** The key file's bytes, a trailing newline (`\n` or `\r\n`) removed. */
function readKey(path: string | undefined): Uint8Array | undefined {
  if (path === undefined) return undefined;
  let key: Buffer;
  try {
    key = readFileSync(path);
  } catch (error) {
    throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `cannot read the key file ${path}: ${(error as Error).message}`);
  }
  let end = key.length;
  if (key[end - 1] === 0x0a) end -= key[end - 2] === 0x0d ? 2 : 1;
  if (end === 0) throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `the key file ${path} is empty`);
  return key.subarray(0, end);
}

/**
 * Runs `mmsb serve` with `argv` (the arguments after `serve`) until
 * `stop` resolves (by default SIGINT or SIGTERM). Returns the exit code.
 */
export async function runServe(argv: readonly string[], print: Print, stop?: Promise<unknown>): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      data: { type: 'string' },
      endpoint: { type: 'string' },
      pub: { type: 'string' },
      fsync: { type: 'string' },
      'key-file': { type: 'string' },
      'session-timeout': { type: 'string' },
      heartbeat: { type: 'string' },
      metrics: { type: 'string' },
      otlp: { type: 'string' },
      'otlp-interval': { type: 'string' },
    },
  });
  if (positionals.length > 0) throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `unexpected arguments ${positionals.join(' ')}`);
  const fsync = (values.fsync ?? 'always') as FsyncPolicy;
  if (!['always', 'interval', 'never'].includes(fsync)) {
    throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `--fsync must be always, interval or never (got ${JSON.stringify(values.fsync)})`);
  }
  const key = readKey(values['key-file']);
  const sessionTimeoutMs = positive(values['session-timeout'], '--session-timeout');
  const heartbeatMs = positive(values.heartbeat, '--heartbeat');
  const data = values.data ?? defaultDataDirectory();
  const endpoint = values.endpoint ?? `ipc://${join(runDirectory(), 'mmsb.sock')}`;
  const pub =
    values.pub === 'none'
      ? undefined
      : (values.pub ?? (values.endpoint === undefined ? `ipc://${join(runDirectory(), 'mmsb-pub.sock')}` : undefined));

  // A closed stdout (`mmsb serve | head`) must not stop the server.
  process.stdout.on('error', () => undefined);
  if (heartbeatMs !== undefined && heartbeatMs >= (sessionTimeoutMs ?? DEFAULT_LIVENESS.sessionTimeoutMs)) {
    throw new MmsbError(ErrorCode.INVALID_ARGUMENT, '--heartbeat must be shorter than --session-timeout, or idle clients expire');
  }
  if (sessionTimeoutMs !== undefined && heartbeatMs === undefined && sessionTimeoutMs <= DEFAULT_LIVENESS.heartbeatMs) {
    throw new MmsbError(
      ErrorCode.INVALID_ARGUMENT,
      `--session-timeout must be longer than the heartbeat (${DEFAULT_LIVENESS.heartbeatMs} ms)`,
    );
  }
  if (data !== ':memory:') {
    try {
      mkdirSync(data, { recursive: true });
    } catch (error) {
      throw new MmsbError(ErrorCode.IO_ERROR, `cannot use ${data} as the data directory: ${(error as Error).message}`);
    }
  }
  const bus = await Bus.open(data, { fsync });
  let server: BridgeServer;
  try {
    server = await BridgeServer.start({
      bus,
      endpoint,
      pub,
      key,
      liveness: { ...(sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs }), ...(heartbeatMs === undefined ? {} : { heartbeatMs }) },
      onError: (error) => process.emitWarning(`mmsb serve: ${(error as Error)?.stack ?? String(error)}`),
    });
  } catch (error) {
    await bus.close();
    throw error;
  }
  let metrics: MetricsServer | undefined;
  if (values.metrics !== undefined || values.otlp !== undefined) {
    const otlpIntervalMs = positive(values['otlp-interval'], '--otlp-interval');
    try {
      metrics = await serveMetrics(bus, {
        listen: values.metrics ?? DEFAULT_LISTEN,
        extra: [{ families: bridgeFamilies, collect: () => bridgeReadings(server.stats()) }],
        ...(values.otlp === undefined
          ? {}
          : { otlp: { url: values.otlp, ...(otlpIntervalMs === undefined ? {} : { intervalMs: otlpIntervalMs }) } }),
      });
    } catch (error) {
      await server.close();
      await bus.close();
      throw error instanceof MmsbError ? error : new MmsbError(ErrorCode.INVALID_ARGUMENT, `--metrics: ${(error as Error).message}`);
    }
  }
  print(`mmsb serve ${VERSION}: protocol v1, fsync ${fsync}${key === undefined ? '' : ', signed messages'}`);
  print(`  data           ${data}`);
  print(`  requests       ${server.endpoint}`);
  print(`  notifications  ${server.pubEndpoint ?? 'none'}`);
  if (metrics !== undefined) print(`  metrics        ${metrics.url}${values.otlp === undefined ? '' : `, exported to ${values.otlp}`}`);
  for (const warning of keyWarnings(values['key-file'], key)) print(`  warning        ${warning}`);
  // A wildcard address is for binding; a client on this machine connects to loopback.
  const reachable = server.endpoint.replace(/^tcp:\/\/(0\.0\.0\.0|\*):/, 'tcp://127.0.0.1:');
  const keyArgument = values['key-file'] === undefined ? '' : `; key = read(${JSON.stringify(values['key-file'])}, String)`;
  const example = [
    'using MMSB',
    `bus = MMSB.connect("${reachable}"${keyArgument})`,
    'p = create_page(bus; size = 4)',
    'update_page!(p, UInt8[1, 2, 3, 4])',
    'println(query_page(p))',
  ];
  print(`  try            julia -e '${example.join('; ')}'`);
  print('Ctrl-C stops (in-flight requests are answered and the log is synced).');

  const stopped =
    stop ??
    new Promise<string>((resolve) => {
      for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => resolve(signal));
    });
  await stopped;
  await server.close();
  await metrics?.close();
  const lsn = bus.lsn;
  await bus.close();
  print(`mmsb serve: stopped; the log is synced through LSN ${lsn}`);
  return 0;
}
