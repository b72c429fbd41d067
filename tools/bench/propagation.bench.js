// The propagation benchmark: the graph shapes of js-reactivity-benchmark
// (deep, broad, diamond, triangle, avoidable propagation, cellx 1000) run on
// @preact/signals-core, mobx and MMSB with JavaScript recomputes, in the same
// run; and a DAG of 1M pages recomputed by a built-in transform, in memory
// and with its derived deltas logged. Counts recomputations per second.
// Writes reports/propagation.{json,md}.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Bus, dense } from '@mmsb/bus';
import { computed as preactComputed, signal } from '@preact/signals-core';
import { computed as mobxComputed, observable, runInAction } from 'mobx';

import { machineInfo } from './measure.js';

const RUN_MS = Number(process.env.MMSB_BENCH_RUN_MS ?? 1000);
const ROUNDS = Number(process.env.MMSB_BENCH_ROUNDS ?? 5);
const DAG_PAGES = Number(process.env.MMSB_BENCH_DAG_PAGES ?? 1_000_000);
const DAG_WAVES = 6;
const reportDirectory = fileURLToPath(new URL('./reports/', import.meta.url));

/**
 * A shape: node 0 is the source; every other node lists the nodes it reads
 * (all earlier). `compute` maps the inputs' values to the node's value.
 */
function shape(name, nodes, compute = (inputs) => (inputs.reduce((sum, value) => sum + value, 0) + 1) & 0xff) {
  return { name, nodes, compute };
}

function chain(length, first = 0) {
  return Array.from({ length }, (_, index) => [first + index]);
}

const shapes = [
  shape('deep (chain of 100)', [[], ...chain(100)]),
  shape('broad (1 → 1000)', [[], ...Array.from({ length: 1000 }, () => [0])]),
  shape('diamond (1 → 100 → 1)', [[], ...Array.from({ length: 100 }, () => [0]), Array.from({ length: 100 }, (_, index) => index + 1)]),
  shape('triangle (10, each reads all before)', [
    [],
    ...Array.from({ length: 10 }, (_, index) => Array.from({ length: index + 1 }, (__, input) => input)),
  ]),
  shape('avoidable propagation (constant, then chain of 100)', [[], [0], ...chain(100, 1)], (inputs) =>
    inputs.length === 1 && inputs[0] !== undefined ? 0 : 0,
  ),
  shape('cellx 1000 (1000 layers of 4)', [
    [],
    [0],
    [0],
    [0],
    [0],
    ...Array.from({ length: 999 }, (_, layer) => {
      const base = 1 + layer * 4;
      return [[base + 1], [base, base + 2], [base + 1, base + 3], [base + 2]];
    }).flat(),
  ]),
];

const leaves = (nodes) => {
  const read = new Set(nodes.flat());
  return nodes.map((_, index) => index).filter((index) => index > 0 && !read.has(index));
};

/** Times `step(iteration)` for `ms` after a warm-up; returns recomputations per second from `counter()`. */
async function rate({ step, counter }, ms) {
  for (let warm = 0; warm < 20; warm++) await step(warm);
  const before = counter();
  const start = performance.now();
  let iteration = 20;
  while (performance.now() - start < ms) await step(iteration++);
  return ((counter() - before) * 1000) / (performance.now() - start);
}

/**
 * The rates of several runners, measured in ROUNDS interleaved rounds of
 * RUN_MS / ROUNDS each, best round kept: a noisy neighbour on a shared
 * machine slows one round of one library, not one library's whole cell.
 */
async function bestRates(runners) {
  const best = runners.map(() => 0);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [index, runner] of runners.entries()) best[index] = Math.max(best[index], await rate(runner, RUN_MS / ROUNDS));
  }
  return best;
}

async function preactRunner({ nodes, compute }) {
  let count = 0;
  const source = signal(0);
  const cells = [source];
  for (const inputs of nodes.slice(1)) {
    cells.push(
      preactComputed(() => {
        count++;
        return compute(inputs.map((input) => cells[input].value));
      }),
    );
  }
  const sinks = leaves(nodes).map((index) => cells[index]);
  return {
    step: (iteration) => {
      source.value = iteration & 0xff;
      for (const sink of sinks) sink.value;
    },
    counter: () => count,
  };
}

async function mobxRunner({ nodes, compute }) {
  let count = 0;
  const source = observable.box(0);
  const cells = [source];
  for (const inputs of nodes.slice(1)) {
    cells.push(
      mobxComputed(() => {
        count++;
        return compute(inputs.map((input) => cells[input].get()));
      }),
    );
  }
  const sinks = leaves(nodes).map((index) => cells[index]);
  const { autorun } = await import('mobx');
  const dispose = autorun(() => {
    for (const sink of sinks) sink.get();
  });
  return { step: (iteration) => runInAction(() => source.set(iteration & 0xff)), counter: () => count, dispose };
}

/**
 * MMSB with a JavaScript recompute per page: one that returns a new array, or,
 * `intoOut`, one that fills the scratch `out` the bus passes and returns it.
 */
async function mmsbRunner({ nodes, compute }, intoOut) {
  let count = 0;
  const bus = Bus.memory();
  const ids = await bus.createPages(nodes.length, { size: 8 });
  const allocating = (parents) => {
    count++;
    const out = new Uint8Array(8);
    out[0] = compute(parents.map((parent) => parent[0]));
    return out;
  };
  const filling = (parents, current, child, out) => {
    count++;
    out.fill(0);
    out[0] = compute(parents.map((parent) => parent[0]));
    return out;
  };
  for (const [index, inputs] of nodes.entries()) {
    for (const input of inputs) await bus.addEdge(ids[input], ids[index]);
    if (index > 0) bus.recompute(ids[index], intoOut ? filling : allocating);
  }
  const payloads = Array.from({ length: 256 }, (_, value) => dense(Uint8Array.of(value, 0, 0, 0, 0, 0, 0, 0)));
  return { step: (iteration) => bus.apply({ pageId: ids[0], payload: payloads[iteration & 0xff] }), counter: () => count };
}

/** A tree of `pages` pages (page i reads page (i - 1) / 2), every child a built-in copy. */
async function openDag(pages, logged) {
  const directory = logged ? mkdtempSync(join(tmpdir(), 'mmsb-bench-dag-')) : undefined;
  const bus = await Bus.open(directory ?? ':memory:', { fsync: 'never', checkpointEveryBytes: 2 ** 40 });
  const ids = await bus.createPages(pages, { size: 8 });
  for (let index = 1; index < pages; index++) {
    await bus.addEdge(ids[(index - 1) >> 1], ids[index]);
    bus.recompute(ids[index], 'copy');
  }
  return { bus, ids, directory, logged, waves: [], value: 0 };
}

/** Runs DAG_WAVES waves on `dag`, each a delta to the root with a new value. */
async function runWaves(dag) {
  for (let wave = 0; wave < DAG_WAVES; wave++) {
    dag.value = (dag.value % 255) + 1;
    const before = dag.bus.propagationStats.recomputed;
    const start = performance.now();
    await dag.bus.apply({ pageId: dag.ids[0], payload: dense(new Uint8Array(8).fill(dag.value)) });
    const ms = performance.now() - start;
    dag.waves.push({ ms, recomputed: dag.bus.propagationStats.recomputed - before });
  }
}

/** The best wave of each DAG over ROUNDS interleaved rounds (the first wave also plans; the plan is cached). */
async function nativeDags(pages) {
  const dags = [await openDag(pages, false), await openDag(pages, true)];
  for (let round = 0; round < ROUNDS; round++) {
    for (const dag of dags) await runWaves(dag);
  }
  const rows = [];
  for (const dag of dags) {
    const check = dag.bus.read(dag.ids[pages - 1])[0];
    await dag.bus.close();
    if (dag.directory !== undefined) rmSync(dag.directory, { recursive: true, force: true });
    if (check !== dag.value) throw new Error('the DAG did not propagate');
    const best = dag.waves.reduce((fastest, wave) => (wave.ms < fastest.ms ? wave : fastest));
    rows.push({
      logged: dag.logged,
      pages,
      recomputedPerWave: best.recomputed,
      waveMs: best.ms,
      medianWaveMs: median(dag.waves.slice(1).map((wave) => wave.ms)),
      perSecond: (best.recomputed * 1000) / best.ms,
    });
  }
  return rows;
}

const median = (values) => [...values].sort((left, right) => left - right)[values.length >> 1];
const fixed = (value, digits = 0) => Number(value).toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits });

const report = { machine: machineInfo(), runMs: RUN_MS, rounds: ROUNDS, shapes: [], dag: [] };
for (const entry of shapes) {
  const runners = [await preactRunner(entry), await mobxRunner(entry), await mmsbRunner(entry, false), await mmsbRunner(entry, true)];
  const [preact, mobx, mmsb, mmsbOut] = await bestRates(runners);
  runners[1].dispose();
  const row = { shape: entry.name, preact, mobx, mmsb, mmsbOut };
  report.shapes.push(row);
  process.stderr.write(
    `${entry.name}: preact ${fixed(preact)}/s, mobx ${fixed(mobx)}/s, mmsb ${fixed(mmsb)}/s, mmsb into out ${fixed(mmsbOut)}/s\n`,
  );
}
report.dag.push(...(await nativeDags(DAG_PAGES)));
const geometric = (values) => Math.exp(values.reduce((sum, value) => sum + Math.log(value), 0) / values.length);
const preactMean = geometric(report.shapes.map((row) => row.preact));
const jsRatio = geometric(report.shapes.map((row) => row.mmsb / row.preact));
const outRatio = geometric(report.shapes.map((row) => row.mmsbOut / row.preact));
const loggedDag = report.dag.find((row) => row.logged);
report.goals = [
  {
    goal: 'JS callbacks ≥ 0.5× signals-core (geometric mean over the shapes)',
    measured: `${fixed(jsRatio, 3)}× (callbacks filling \`out\`: ${fixed(outRatio, 3)}×)`,
    met: jsRatio >= 0.5,
  },
  {
    goal: 'native transforms, derived deltas logged, ≥ 2× signals-core',
    measured: `${fixed(loggedDag.perSecond)} vs ${fixed(preactMean)} recomputes/s: ${fixed(loggedDag.perSecond / preactMean, 2)}×`,
    met: loggedDag.perSecond >= 2 * preactMean,
  },
];

const markdown = [
  '# Propagation benchmark',
  '',
  'Written by `tools/bench/propagation.bench.js` (`bash tools/dev.sh bench`). Recomputations per second, same run,',
  `${RUN_MS} ms per cell in ${ROUNDS} interleaved rounds (signals, mobx, MMSB, again), the best round of each kept, so that`,
  'a busy neighbour on a shared machine slows one round rather than one library. Each iteration sets the source and reads',
  'every sink (signals and mobx compute lazily); MMSB applies a dense delta to the source page and its wave recomputes the',
  'descendants (8-byte pages, a JavaScript callback per page computing the same byte as the signals do, in-memory bus).',
  'The shapes follow js-reactivity-benchmark.',
  '',
  `Machine: ${report.machine.cpu}, ${report.machine.cores} cores, ${report.machine.memoryGiB} GiB; Node ${report.machine.node}; commit ${report.machine.commit}; ${report.machine.date}.`,
  '',
  '## Goals',
  '',
  '| goal | measured | verdict |',
  '|---|---|---|',
  ...report.goals.map((goal) => `| ${goal.goal} | ${goal.measured} | ${goal.met ? 'met' : 'not met'} |`),
  '',
  'One run. On a shared machine these ratios move from run to run, by a third and more for the logged DAG (its log writes',
  'and segment syncs depend on the disk): a goal met or missed by a small margin is within that noise.',
  '',
  '## JavaScript recomputes',
  '',
  'MMSB: each recompute returns a new array (as before); MMSB, `out`: each fills and returns the scratch `out` the bus',
  'passes, allocating nothing. The goal is judged on the first.',
  '',
  '| shape | @preact/signals-core | mobx | MMSB | MMSB / signals | MMSB, `out` | MMSB, `out` / signals |',
  '|---|---|---|---|---|---|---|',
  ...report.shapes.map(
    (row) =>
      `| ${row.shape} | ${fixed(row.preact)} | ${fixed(row.mobx)} | ${fixed(row.mmsb)} | ${fixed(row.mmsb / row.preact, 3)}× | ` +
      `${fixed(row.mmsbOut)} | ${fixed(row.mmsbOut / row.preact, 3)}× |`,
  ),
  '',
  '## Built-in transforms on a DAG',
  '',
  `A tree of ${fixed(DAG_PAGES)} pages of 8 bytes (page i reads page (i-1)/2), every child a built-in \`copy\`; one delta to the`,
  `root recomputes every other page in one wave, planned and run in Rust, applied as one batch. ${ROUNDS} rounds of ${DAG_WAVES}`,
  'waves, alternating between the two buses; the best wave of each is kept (the median beside it, the first wave, which',
  'also plans, left out).',
  '',
  '| derived deltas | recomputed per wave | best wave | median wave | recomputes/s (best wave) |',
  '|---|---|---|---|---|',
  ...report.dag.map(
    (row) =>
      `| ${row.logged ? 'logged (data directory, fsync never)' : 'in memory'} | ${fixed(row.recomputedPerWave)} | ${fixed(row.waveMs)} ms | ${fixed(row.medianWaveMs)} ms | ${fixed(row.perSecond)} |`,
  ),
  '',
].join('\n');
writeFileSync(join(reportDirectory, 'propagation.json'), `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(join(reportDirectory, 'propagation.md'), markdown);
process.stdout.write(markdown);
