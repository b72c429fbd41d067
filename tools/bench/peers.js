// The peer systems of the durability benchmark, started by the benchmark
// itself on loopback: Redis (Debian's redis-server, measured with
// redis-benchmark) and SQLite (better-sqlite3, in worker threads).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * Starts redis-server with AOF on and the given appendfsync, runs `body`
 * with its port, then stops it and removes its files.
 * @param {'always' | 'everysec'} appendfsync
 * @param {(port: number) => unknown} body
 */
export async function withRedis(appendfsync, body) {
  const directory = mkdtempSync(join(tmpdir(), 'mmsb-bench-redis-'));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const server = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', directory, '--appendonly', 'yes', '--appendfsync', appendfsync, '--save', ''],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise((resolve, reject) => {
    let output = '';
    server.stdout.on('data', (chunk) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) resolve(undefined);
    });
    server.on('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${output}`)));
  });
  try {
    return await body(port);
  } finally {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.on('exit', resolve));
    rmSync(directory, { recursive: true, force: true });
  }
}

/**
 * SET requests per second from redis-benchmark with `clients` connections.
 * @param {number} port @param {number} clients @param {number} size @param {number} requests @param {number} [pipeline]
 */
export function redisSetsPerSecond(port, clients, size, requests, pipeline = 1) {
  const csv = execFileSync(
    'redis-benchmark',
    [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-c',
      String(clients),
      '-n',
      String(requests),
      '-t',
      'set',
      '-d',
      String(size),
      '-r',
      '100000',
      '-P',
      String(pipeline),
      '--csv',
    ],
    { encoding: 'utf8' },
  );
  const line = csv.split('\n').find((row) => row.startsWith('"SET"'));
  return Number(line?.split(',')[1]?.replaceAll('"', ''));
}

const sqliteWorker = `
  const { parentPort, workerData } = require('node:worker_threads');
  const Database = require(workerData.module);
  const db = new Database(workerData.file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = ' + workerData.synchronous);
  db.pragma('busy_timeout = 10000');
  const insert = db.prepare('INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)');
  const value = Buffer.alloc(workerData.size, 7);
  const batch = db.transaction((keys) => { for (const key of keys) insert.run(key, value); });
  let rows = 0;
  const end = Date.now() + workerData.ms;
  while (Date.now() < end) {
    if (workerData.batch === 1) insert.run(Math.floor(Math.random() * 100000), value);
    else batch(Array.from({ length: workerData.batch }, () => Math.floor(Math.random() * 100000)));
    rows += workerData.batch;
  }
  db.close();
  parentPort.postMessage(rows);
`;

/**
 * Rows per second written into SQLite (WAL) by `writers` worker threads,
 * each with its own connection, `batch` rows per transaction.
 * @param {string} module the resolved path of better-sqlite3
 * @param {'FULL' | 'NORMAL'} synchronous @param {number} writers @param {number} size @param {number} batch @param {number} ms
 */
export async function sqliteRowsPerSecond(module, synchronous, writers, size, batch, ms) {
  const directory = mkdtempSync(join(tmpdir(), 'mmsb-bench-sqlite-'));
  const file = join(directory, 'bench.db');
  const { default: Database } = await import(module);
  const setup = new Database(file);
  setup.pragma('journal_mode = WAL');
  setup.exec('CREATE TABLE kv (key INTEGER PRIMARY KEY, value BLOB)');
  setup.close();
  try {
    const counts = await Promise.all(
      Array.from(
        { length: writers },
        () =>
          new Promise((resolve, reject) => {
            const worker = new Worker(sqliteWorker, { eval: true, workerData: { module, file, synchronous, size, batch, ms } });
            worker.on('message', resolve);
            worker.on('error', reject);
          }),
      ),
    );
    return (counts.reduce((sum, count) => sum + count, 0) * 1000) / ms;
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}
