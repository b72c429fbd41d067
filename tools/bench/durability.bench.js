// The durability benchmark: durable commits per second with 1 and 8
// writers against Redis (AOF, appendfsync always and everysec) and SQLite
// (WAL, synchronous FULL and NORMAL) started here on loopback with the same
// payloads; batched throughput; and recovery of a 1 GiB log tail against a
// sequential read of the same files. Writes reports/durability.{json,md}.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Bus, dense } from '@mmsb/bus';

import { machineInfo, median } from './measure.js';
import { redisSetsPerSecond, sqliteRowsPerSecond, withRedis } from './peers.js';

const RUN_MS = Number(process.env.MMSB_BENCH_RUN_MS ?? 2000);
const RECOVERY_BYTES = Number(process.env.MMSB_BENCH_RECOVERY_BYTES ?? 2 ** 30);
const SIZES = [64, 256, 4096];
const WRITERS = [1, 8];
const reportDirectory = fileURLToPath(new URL('./reports/', import.meta.url));
const betterSqlite = createRequire(import.meta.url).resolve('better-sqlite3');

const scratch = () => mkdtempSync(join(tmpdir(), 'mmsb-bench-durable-'));

/** Durable commits per second of `writers` concurrent writers, each awaiting every apply. */
async function mmsbCommitsPerSecond(writers, size, syncThread, timings = true) {
  const directory = scratch();
  const bus = await Bus.open(directory, { fsync: 'always', syncThread, timings });
  const ids = await bus.createPages(1024, { size });
  const payload = dense(new Uint8Array(size).fill(3));
  let commits = 0;
  const syncsBefore = bus.syncs;
  const end = Date.now() + RUN_MS;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: writers }, async (_, writer) => {
      for (let index = writer; Date.now() < end; index += writers) {
        await bus.apply({ pageId: ids[index % ids.length], payload });
        commits++;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const syncs = bus.syncs - syncsBefore;
  await bus.close();
  rmSync(directory, { recursive: true, force: true });
  return { perSecond: commits / seconds, commitsPerSync: commits / Math.max(1, syncs) };
}

/** Durable deltas per second in batches of `batch` 64-byte deltas. */
async function mmsbBatchedPerSecond(batch) {
  const directory = scratch();
  const bus = await Bus.open(directory, { fsync: 'always' });
  const ids = await bus.createPages(1024, { size: 64 });
  const deltas = Array.from({ length: batch }, (_, index) => ({
    pageId: ids[index % ids.length],
    payload: dense(new Uint8Array(64).fill(index)),
  }));
  let applied = 0;
  const end = Date.now() + RUN_MS;
  const start = process.hrtime.bigint();
  while (Date.now() < end) applied += await bus.applyBatch(deltas);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await bus.close();
  rmSync(directory, { recursive: true, force: true });
  return applied / seconds;
}

/** Writes about `bytes` of log, then times a sequential read of the segments and a recovery. */
async function recovery(bytes) {
  const directory = scratch();
  const deltaBytes = 64 * 1024;
  const bus = await Bus.open(directory, { fsync: 'never', checkpointEveryBytes: 2 * bytes });
  const ids = await bus.createPages(256, { size: deltaBytes });
  const deltas = Array.from({ length: 16 }, (_, index) => ({ pageId: ids[index], payload: dense(new Uint8Array(deltaBytes).fill(index)) }));
  for (let written = 0; written < bytes; written += 16 * deltaBytes) {
    for (let index = 0; index < deltas.length; index++)
      deltas[index] = { ...deltas[index], pageId: ids[(written / deltaBytes + index) % ids.length] };
    await bus.applyBatch(deltas);
  }
  await bus.sync();
  const hash = bus.stateHash();
  const records = bus.lsn;
  await bus.close();
  const logDirectory = join(directory, 'log');
  const buffer = Buffer.allocUnsafe(8 * 1024 * 1024);
  const readOnce = () => {
    let total = 0;
    const start = process.hrtime.bigint();
    for (const name of readdirSync(logDirectory)) {
      const fd = openSync(join(logDirectory, name), 'r');
      for (let read; (read = readSync(fd, buffer, 0, buffer.length, null)) > 0;) total += read;
      closeSync(fd);
    }
    return { ms: Number(process.hrtime.bigint() - start) / 1e6, total };
  };
  const recoverOnce = async () => {
    const start = process.hrtime.bigint();
    const reopened = await Bus.open(directory);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (reopened.stateHash() !== hash) throw new Error('recovery produced a different state');
    await reopened.close();
    return ms;
  };
  readOnce();
  const reads = [readOnce(), readOnce(), readOnce()];
  const recoveries = [await recoverOnce(), await recoverOnce(), await recoverOnce()];
  const warm = summary(reads, recoveries);
  let cold;
  if (dropCaches()) {
    const coldReads = [];
    const coldRecoveries = [];
    for (let round = 0; round < 3; round++) {
      dropCaches();
      coldReads.push(readOnce());
      dropCaches();
      coldRecoveries.push(await recoverOnce());
    }
    cold = summary(coldReads, coldRecoveries);
  }
  rmSync(directory, { recursive: true, force: true });
  return { logBytes: reads[0].total, records, warm, cold };
}

function summary(reads, recoveries) {
  const readMs = median(reads.map((read) => read.ms));
  const recoverMs = median(recoveries);
  const bytes = reads[0].total;
  return { readMs, recoverMs, readGBps: bytes / readMs / 1e6, recoverGBps: bytes / recoverMs / 1e6, ratio: readMs / recoverMs };
}

/** Empties the page cache (root on Linux); false where that is not allowed. */
function dropCaches() {
  try {
    execFileSync('sync');
    writeFileSync('/proc/sys/vm/drop_caches', '3');
    return true;
  } catch {
    return false;
  }
}

const fixed = (value, digits = 0) => Number(value).toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/**
 * The goals and their verdicts. A verdict judges the default configuration
 * (worker sync; recovery from a warm page cache, where a read is a copy);
 * other variants are shown beside it, never in its place.
 */
function goals(report) {
  const eight = report.commits.filter((row) => row.writers === 8);
  const { warm, cold } = report.recovery;
  return [
    {
      goal: '≥ 2× Redis (appendfsync always) with 8 writers, default worker sync',
      measured: eight
        .map(
          (row) =>
            `${row.size} B: ${fixed(row.mmsb / row.redisAlways, 2)}× (beside it, main-thread sync ${fixed(row.mmsbMain / row.redisAlways, 2)}×)`,
        )
        .join(', '),
      met: eight.every((row) => row.mmsb >= 2 * row.redisAlways),
    },
    {
      goal: '≥ 2× SQLite (WAL, synchronous FULL) with 8 writers',
      measured: eight.map((row) => `${row.size} B: ${fixed(row.mmsb / row.sqliteFull, 2)}×`).join(', '),
      met: eight.every((row) => row.mmsb >= 2 * row.sqliteFull),
    },
    {
      goal: '≥ 1M small deltas/s batched (fsync always)',
      measured: `${fixed(report.batched.mmsbDeltasPerSecond)} deltas/s`,
      met: report.batched.mmsbDeltasPerSecond >= 1e6,
    },
    {
      goal: 'recovery ≥ 0.5× sequential read bandwidth, warm page cache',
      measured: `warm cache ${fixed(warm.ratio, 2)}×` + (cold === undefined ? '' : ` (beside it, cold cache ${fixed(cold.ratio, 2)}×)`),
      met: warm.ratio >= 0.5,
    },
  ];
}

/**
 * Durable commits with apply timings on (the default) and off, 5 alternating
 * runs each, medians: the metrics' cost where every commit waits for a sync.
 */
async function metricsOverhead() {
  const runs = { on: [], off: [] };
  for (let round = 0; round < 5; round++) {
    runs.on.push((await mmsbCommitsPerSecond(8, 64, 'worker', true)).perSecond);
    runs.off.push((await mmsbCommitsPerSecond(8, 64, 'worker', false)).perSecond);
  }
  const [on, off] = [median(runs.on), median(runs.off)];
  return { size: 64, writers: 8, on, off, overhead: off / on - 1 };
}

async function main() {
  const report = { machine: machineInfo(), runMs: RUN_MS, commits: [], batched: {}, recovery: undefined, goals: [] };
  for (const size of SIZES) {
    for (const writers of WRITERS) {
      const mmsb = await mmsbCommitsPerSecond(writers, size, 'worker');
      const mmsbMain = await mmsbCommitsPerSecond(writers, size, 'main');
      const requests = Math.round((writers === 1 ? 6000 : 25000) * (RUN_MS / 2000));
      const redisAlways = await withRedis('always', (port) => redisSetsPerSecond(port, writers, size, requests));
      const redisEverysec = await withRedis('everysec', (port) => redisSetsPerSecond(port, writers, size, requests * 4));
      const sqliteFull = await sqliteRowsPerSecond(betterSqlite, 'FULL', writers, size, 1, RUN_MS);
      const sqliteNormal = await sqliteRowsPerSecond(betterSqlite, 'NORMAL', writers, size, 1, RUN_MS);
      report.commits.push({
        size,
        writers,
        mmsb: mmsb.perSecond,
        mmsbMain: mmsbMain.perSecond,
        commitsPerSync: mmsb.commitsPerSync,
        redisAlways,
        redisEverysec,
        sqliteFull,
        sqliteNormal,
      });
      process.stderr.write(
        `commits ${size} B × ${writers}: mmsb ${Math.round(mmsb.perSecond)}/s, redis always ${Math.round(redisAlways)}/s, sqlite FULL ${Math.round(sqliteFull)}/s\n`,
      );
    }
  }
  report.batched = {
    batch: 1000,
    mmsbDeltasPerSecond: await mmsbBatchedPerSecond(1000),
    sqliteFullRowsPerSecond: await sqliteRowsPerSecond(betterSqlite, 'FULL', 1, 64, 1000, RUN_MS),
    redisAlwaysPipelinedPerSecond: await withRedis('always', (port) => redisSetsPerSecond(port, 8, 64, 400000, 1000)),
  };
  report.metrics = await metricsOverhead();
  report.recovery = await recovery(RECOVERY_BYTES);
  report.goals = goals(report);
  writeFileSync(join(reportDirectory, 'durability.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(reportDirectory, 'durability.md'), markdown(report));
  process.stdout.write(markdown(report));
}

/** The metrics-overhead section; reports written before it existed have none. */
function metricsSection(metrics) {
  if (metrics === undefined) return [];
  return [
    '## Metrics overhead',
    '',
    `Durable commits of ${metrics.size} B by ${metrics.writers} writers, with apply timings on (the default: one apply call in 16 timed for`,
    '`mmsb_apply_seconds`) and with `timings: false`, 5 alternating runs each, medians. Sync, checkpoint and wave histograms',
    'and every count are kept either way.',
    '',
    '| timings on commits/s | timings off commits/s | overhead |',
    '|---|---|---|',
    `| ${fixed(metrics.on)} | ${fixed(metrics.off)} | ${(metrics.overhead * 100).toFixed(1)} % |`,
    '',
  ];
}

function markdown(report) {
  const { machine, commits, batched, recovery: recovered, goals } = report;
  return [
    '# Durability benchmark: commits, batches, recovery',
    '',
    'Written by `tools/bench/durability.bench.js` (`bash tools/dev.sh bench`). Every peer runs in the same run, on the same',
    `disk (the system temp directory), with the same payloads, for ${report.runMs} ms per cell. MMSB: \`Bus.open(dir, { fsync: 'always' })\`,`,
    'N concurrent async writers each awaiting every `apply` of a dense delta to one of 1024 pages. Redis 7 (Debian) with AOF,',
    'measured by `redis-benchmark -t set -d <size> -c <writers>`. SQLite through better-sqlite3, WAL, one row per transaction',
    '(`INSERT OR REPLACE`), each writer a worker thread with its own connection.',
    '',
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}; Node ${machine.node}; commit ${machine.commit}; ${machine.date}.`,
    '',
    '## Goals',
    '',
    '| goal | measured | verdict |',
    '|---|---|---|',
    ...goals.map((goal) => `| ${goal.goal} | ${goal.measured} | ${goal.met ? 'met' : 'not met'} |`),
    '',
    '## Durable commits per second',
    '',
    '| payload | writers | MMSB always | commits per fsync | MMSB always, main-thread sync | Redis always | Redis everysec | SQLite FULL | SQLite NORMAL |',
    '|---|---|---|---|---|---|---|---|---|',
    ...commits.map(
      (row) =>
        `| ${row.size} B | ${row.writers} | ${fixed(row.mmsb)} | ${fixed(row.commitsPerSync, 1)} | ${fixed(row.mmsbMain)} | ` +
        `${fixed(row.redisAlways)} | ${fixed(row.redisEverysec)} | ${fixed(row.sqliteFull)} | ${fixed(row.sqliteNormal)} |`,
    ),
    '',
    'Redis everysec and SQLite NORMAL do not sync every commit; they are shown for orientation, not as peers of `always`.',
    "`syncThread: 'main'` runs fdatasync on the JavaScript thread (as Redis does) instead of a libuv worker: no thread round",
    'trip per sync, but the event loop blocks while the disk syncs.',
    '',
    `## Batched (${batched.batch} deltas or rows of 64 B per call, durable)`,
    '',
    '| system | per second |',
    '|---|---|',
    `| MMSB \`applyBatch\`, fsync always | ${fixed(batched.mmsbDeltasPerSecond)} deltas |`,
    `| SQLite FULL, ${batched.batch} rows per transaction | ${fixed(batched.sqliteFullRowsPerSecond)} rows |`,
    `| Redis always, 8 clients, pipeline of ${batched.batch} | ${fixed(batched.redisAlwaysPipelinedPerSecond)} SETs |`,
    '',
    ...metricsSection(report.metrics),
    '## Recovery of a log tail',
    '',
    `${fixed(recovered.logBytes / 2 ** 20)} MiB of log (${fixed(recovered.records)} records of 16 deltas of 64 KiB), medians of 3. Recovery`,
    'is `Bus.open`: every checksum checked and every delta applied to its page. The cold rows empty the page cache',
    '(`/proc/sys/vm/drop_caches`) before each read and each recovery; warm ones read from the page cache, where a read is a',
    'memory copy.',
    '',
    '| page cache | sequential read | recovery | recovery / read bandwidth |',
    '|---|---|---|---|',
    ...['cold', 'warm']
      .filter((cache) => recovered[cache] !== undefined)
      .map((cache) => {
        const row = recovered[cache];
        return `| ${cache} | ${fixed(row.readMs)} ms (${fixed(row.readGBps, 2)} GB/s) | ${fixed(row.recoverMs)} ms (${fixed(row.recoverGBps, 2)} GB/s) | ${fixed(row.ratio, 2)}× |`;
      }),
    ...(recovered.cold === undefined ? ['', 'The page cache could not be emptied here (not root), so only warm figures exist.'] : []),
    '',
  ].join('\n');
}

// `--render` rewrites the markdown (and verdicts) from the last JSON report without measuring again.
if (process.argv.includes('--render')) {
  const report = JSON.parse(readFileSync(join(reportDirectory, 'durability.json'), 'utf8'));
  report.goals = goals(report);
  writeFileSync(join(reportDirectory, 'durability.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(reportDirectory, 'durability.md'), markdown(report));
} else {
  await main();
}
