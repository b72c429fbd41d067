// The core benchmark: delta apply against memcpy, sparse and ranges, batch
// against single calls, and the memory of a million small pages. Writes
// reports/core.json and reports/core.md. A benchmark, not a test: it asserts
// nothing and reports each goal as met or not.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { Bus, dense, ranges, sparse } from '@mmsb/bus';

import { gbPerSecond, machineInfo, nsPerOp } from './measure.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const reportDirectory = fileURLToPath(new URL('./reports/', import.meta.url));

/** Fills a buffer with pseudo-random bytes (xorshift), the same every run. */
function noise(length, seed = 0x9e3779b9) {
  const out = new Uint8Array(length);
  let state = seed >>> 0 || 1;
  for (let index = 0; index < length; index++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[index] = state & 0xff;
  }
  return out;
}

/** A sparse payload selecting about `fraction` of a page's bytes at random. */
function randomSparse(size, fraction, seed) {
  const mask = new Uint8Array(Math.ceil(size / 8));
  const random = noise(size, seed);
  let selected = 0;
  const threshold = Math.round(fraction * 256);
  for (let index = 0; index < size; index++) {
    if (random[index] < threshold) {
      mask[index >> 3] |= 1 << (index & 7);
      selected++;
    }
  }
  return sparse(mask, noise(selected, seed + 1));
}

async function denseAgainstMemcpy(bus) {
  const rows = [];
  for (const size of [4 * KiB, 1 * MiB, 64 * MiB]) {
    const id = await bus.createPage({ size });
    const source = noise(size);
    const target = new Uint8Array(size);
    const payload = dense(source);
    const minMs = size >= 64 * MiB ? 400 : 150;
    const memcpyNs = await nsPerOp(() => target.set(source), { minMs });
    const applyNs = await nsPerOp(() => bus.apply({ pageId: id, payload }), { minMs });
    rows.push({
      size,
      memcpyGBps: gbPerSecond(size, memcpyNs),
      applyGBps: gbPerSecond(size, applyNs),
      ratio: memcpyNs / applyNs,
    });
    await bus.releasePage(id);
  }
  return rows;
}

async function sparseAgainstMemcpy(bus) {
  const size = 1 * MiB;
  const id = await bus.createPage({ size });
  const source = noise(size);
  const target = new Uint8Array(size);
  const memcpyNs = await nsPerOp(() => target.set(source));
  const rows = [];
  for (const fraction of [0.01, 0.1, 0.5]) {
    const payload = randomSparse(size, fraction, 7);
    const applyNs = await nsPerOp(() => bus.apply({ pageId: id, payload }));
    rows.push({ size, fraction, memcpyUs: memcpyNs / 1000, sparseUs: applyNs / 1000, timeOverMemcpy: applyNs / memcpyNs });
  }
  await bus.releasePage(id);
  return rows;
}

async function rangesAgainstMemcpy(bus) {
  const size = 1 * MiB;
  const id = await bus.createPage({ size });
  const rows = [];
  for (const [count, length] of [
    [16, 4 * KiB],
    [256, 256],
    [4096, 16],
  ]) {
    const stride = size / count;
    const writes = Array.from({ length: count }, (_, index) => ({ offset: index * stride, bytes: noise(length, index + 1) }));
    const payload = ranges(writes);
    const written = count * length;
    const source = noise(written);
    const target = new Uint8Array(written);
    const memcpyNs = await nsPerOp(() => target.set(source));
    const applyNs = await nsPerOp(() => bus.apply({ pageId: id, payload }));
    rows.push({
      count,
      length,
      bytesWritten: written,
      memcpyUs: memcpyNs / 1000,
      rangesUs: applyNs / 1000,
      timeOverMemcpy: applyNs / memcpyNs,
    });
  }
  await bus.releasePage(id);
  return rows;
}

async function batchAgainstSingle(bus) {
  const rows = [];
  for (const size of [64, 4 * KiB]) {
    const count = 1000;
    const ids = await bus.createPages(count, { size });
    const deltas = ids.map((pageId, index) => ({ pageId, payload: dense(noise(size, index + 1)) }));
    const singleNs = await nsPerOp(
      async () => {
        for (const delta of deltas) await bus.apply(delta);
      },
      { opsPerCall: count, samples: 5 },
    );
    const batchNs = await nsPerOp(() => bus.applyBatch(deltas), { opsPerCall: count, samples: 5 });
    rows.push({ size, deltasPerBatch: count, singlePerSecond: 1e9 / singleNs, batchPerSecond: 1e9 / batchNs, speedup: singleNs / batchNs });
    for (const id of ids) await bus.releasePage(id);
  }
  return rows;
}

/** RSS of a fresh process before and after creating a million 64-byte pages. */
function millionPagesRss() {
  const script = `
    const { Bus } = await import('@mmsb/bus');
    const bus = Bus.memory();
    const before = process.memoryUsage().rss;
    const start = process.hrtime.bigint();
    await bus.createPages(1_000_000, { size: 64 });
    const createMs = Number(process.hrtime.bigint() - start) / 1e6;
    const after = process.memoryUsage().rss;
    process.stdout.write(JSON.stringify({ before, after, createMs, live: bus.livePageCount }));
  `;
  const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    cwd: fileURLToPath(new URL('..', import.meta.url)),
  });
  const { before, after, createMs, live } = JSON.parse(output);
  return { pages: live, pageSize: 64, rssBeforeMB: before / 1e6, rssAfterMB: after / 1e6, rssGrowthMB: (after - before) / 1e6, createMs };
}

const fixed = (value, digits = 2) => Number(value).toFixed(digits);
const sizeName = (bytes) => (bytes >= MiB ? `${bytes / MiB} MiB` : bytes >= KiB ? `${bytes / KiB} KiB` : `${bytes} B`);
const verdict = (met) => (met ? 'met' : 'not met');

function markdown(report) {
  const { machine, dense: denseRows, sparse: sparseRows, ranges: rangeRows, batch, memory, goals } = report;
  const lines = [
    '# Core benchmark: pages and deltas',
    '',
    'Written by `tools/bench/core.bench.js` (`bash tools/dev.sh bench`). Medians of 5-7 samples; every ratio is against a',
    'baseline measured in the same run. memcpy is `Uint8Array.prototype.set` between two buffers of the same size, which V8',
    'performs as a memmove. Each `apply` is awaited, as an application would.',
    '',
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}; Node ${machine.node}; ${machine.rustc};`,
    `commit ${machine.commit}; ${machine.date}.`,
    '',
    '## Goals',
    '',
    '| goal | measured | verdict |',
    '|---|---|---|',
    ...goals.map((goal) => `| ${goal.goal} | ${goal.measured} | ${verdict(goal.met)} |`),
    '',
    '## Dense apply against memcpy',
    '',
    '| page | memcpy GB/s | apply GB/s | apply / memcpy |',
    '|---|---|---|---|',
    ...denseRows.map((row) => `| ${sizeName(row.size)} | ${fixed(row.memcpyGBps)} | ${fixed(row.applyGBps)} | ${fixed(row.ratio)}× |`),
    '',
    '## Sparse apply (1 MiB page, random bytes selected)',
    '',
    '| selected | memcpy of the page µs | sparse apply µs | time / memcpy time |',
    '|---|---|---|---|',
    ...sparseRows.map(
      (row) => `| ${row.fraction * 100} % | ${fixed(row.memcpyUs, 1)} | ${fixed(row.sparseUs, 1)} | ${fixed(row.timeOverMemcpy)}× |`,
    ),
    '',
    '## Ranges apply (1 MiB page)',
    '',
    '| ranges × bytes | memcpy of the bytes µs | ranges apply µs | time / memcpy time |',
    '|---|---|---|---|',
    ...rangeRows.map(
      (row) => `| ${row.count} × ${row.length} | ${fixed(row.memcpyUs, 1)} | ${fixed(row.rangesUs, 1)} | ${fixed(row.timeOverMemcpy)}× |`,
    ),
    '',
    '## Batch against single calls (1000 dense deltas to 1000 pages)',
    '',
    '| page | single deltas/s | batch deltas/s | batch / single |',
    '|---|---|---|---|',
    ...batch.map(
      (row) =>
        `| ${sizeName(row.size)} | ${Math.round(row.singlePerSecond).toLocaleString('en')} | ` +
        `${Math.round(row.batchPerSecond).toLocaleString('en')} | ${fixed(row.speedup)}× |`,
    ),
    '',
    '## Reading the numbers',
    '',
    '- A 4 KiB memcpy takes about 130 ns; one awaited `apply` costs about 400 ns of fixed work (the promise, argument checks,',
    '  the napi crossing) before its copy, so a single 4 KiB dense apply cannot reach 0.8× memcpy. From 1 MiB the copy',
    '  dominates and apply runs at memcpy speed (64 MiB pages are cold in cache on both sides).',
    '- A batch encodes its deltas into one buffer, copying each payload once in JavaScript: that removes the per-call cost',
    '  (64 B deltas) but adds a copy, so for 4 KiB payloads a batch is no faster than single calls.',
    '- Sparse apply uses AVX-512 VBMI2 `vpexpandb` where the CPU has it (one expand per 64 page bytes, whatever the',
    '  density), and a bit-scan loop elsewhere.',
    '- Many tiny ranges (4096 × 16 B) are dominated by encoding each range in JavaScript; a sparse payload is the cheaper',
    '  form for scattered bytes.',
    '',
    '## Memory of 1M pages of 64 B',
    '',
    `A fresh Node process: RSS ${fixed(memory.rssBeforeMB, 1)} MB before, ${fixed(memory.rssAfterMB, 1)} MB after creating ` +
      `${memory.pages.toLocaleString('en')} pages (growth ${fixed(memory.rssGrowthMB, 1)} MB, ` +
      `${fixed((memory.rssGrowthMB * 1e6) / memory.pages, 0)} B per page); creation took ${fixed(memory.createMs, 0)} ms in one call.`,
    '',
  ];
  return lines.join('\n');
}

const bus = Bus.memory();
const report = {
  machine: machineInfo(),
  dense: await denseAgainstMemcpy(bus),
  sparse: await sparseAgainstMemcpy(bus),
  ranges: await rangesAgainstMemcpy(bus),
  batch: await batchAgainstSingle(bus),
  memory: millionPagesRss(),
};
const denseLarge = report.dense.filter((row) => row.size >= MiB);
const sparseTen = report.sparse.find((row) => row.fraction === 0.1);
report.goals = [
  {
    goal: 'dense apply ≥ 0.8× memcpy bandwidth',
    measured: report.dense.map((row) => `${sizeName(row.size)}: ${fixed(row.ratio)}×`).join(', '),
    met: report.dense.every((row) => row.ratio >= 0.8),
  },
  {
    goal: 'dense apply ≥ 0.8× memcpy for pages ≥ 1 MiB',
    measured: denseLarge.map((row) => `${sizeName(row.size)}: ${fixed(row.ratio)}×`).join(', '),
    met: denseLarge.every((row) => row.ratio >= 0.8),
  },
  {
    goal: 'sparse 10 % ≤ 2× the time of a dense memcpy of the page',
    measured: `${fixed(sparseTen.timeOverMemcpy)}×`,
    met: sparseTen.timeOverMemcpy <= 2,
  },
  {
    goal: '1M × 64 B pages ≤ 200 MB RSS',
    measured: `${fixed(report.memory.rssAfterMB, 1)} MB (process total)`,
    met: report.memory.rssAfterMB <= 200,
  },
];
await bus.close();
mkdirSync(reportDirectory, { recursive: true });
writeFileSync(`${reportDirectory}core.json`, `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(`${reportDirectory}core.md`, markdown(report));
process.stdout.write(markdown(report));
