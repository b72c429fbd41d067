// The bridge benchmark, every figure beside its baseline from the same run:
// round trips over ipc and tcp against a raw zeromq.js echo (another
// process each, both running, measured in alternating blocks so that both
// see the same machine), pipelined operations per second (the default client,
// which packs, and beside it a server that does not announce packing),
// durable commits with 64 clients against redis-server (appendfsync
// always, redis-benchmark -c 64) and against what 64 such clients get from
// the raw echo, and a 64 MiB read through shared memory against inline and
// memcpy. Writes reports/bridge.{json,md}.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { dense } from '@mmsb/bus';
import { connect } from '@mmsb/julia-bridge';
import { Dealer } from 'zeromq';

import { machineInfo, median } from './measure.js';
import { redisSetsPerSecond, withRedis } from './peers.js';

const ROUND_TRIPS = Number(process.env.MMSB_BENCH_ROUND_TRIPS ?? 5000);
const PIPELINED = Number(process.env.MMSB_BENCH_PIPELINED ?? 100_000);
const RUN_MS = Number(process.env.MMSB_BENCH_RUN_MS ?? 3000);
/** The JSON report of an earlier run, shown beside this one (the machine is shared: a second run shows the spread). */
const BESIDE = process.env.MMSB_BENCH_BESIDE;
const BLOCK = 100;
/**
 * Round trips of each kind before any is measured. With 500, the first 3000
 * measured pings held round trips of 1 to 8 ms at the same positions run after
 * run (V8 still compiling the client's and the server's paths on a 2-core
 * machine) and they alone made the p99; past 5000 they are gone.
 */
const WARM_UP = 5000;
const CLIENTS = 64;
const COMMIT_BYTES = 64;
const BULK = 64 * 2 ** 20;
const reportDirectory = fileURLToPath(new URL('./reports/', import.meta.url));
const peerScript = fileURLToPath(new URL('./bridge-peer.js', import.meta.url));
const loadGeneratorSource = fileURLToPath(new URL('./commit-load.c', import.meta.url));
const echoServerSource = fileURLToPath(new URL('./zmq-echo.c', import.meta.url));

/** Runs bridge-peer.js with `args` until `body` is done. */
function withPeer(args, body) {
  return withProcess(process.execPath, [peerScript, ...args], body);
}

/** Runs a server process that prints a line once it serves, until `body` is done. */
async function withProcess(command, args, body) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    child.stdout.once('data', resolve);
    child.once('exit', (code) => reject(new Error(`${command} ${args.join(' ')} exited with ${code}`)));
  });
  try {
    return await body();
  } finally {
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

/**
 * Round-trip microseconds of each of `kinds` (one request, awaited), in
 * alternating blocks: each block back to back after a few round trips of
 * warm-up (as a lone client sees it), the blocks of every kind spread over
 * the whole run (so that both see the same load of this shared machine).
 */
async function roundTripBlocks(kinds) {
  const names = Object.keys(kinds);
  const samples = Object.fromEntries(names.map((name) => [name, []]));
  for (const name of names) for (let i = 0; i < WARM_UP; i++) await kinds[name]();
  for (let block = 0; block < ROUND_TRIPS / BLOCK; block++) {
    for (const name of names) {
      for (let i = 0; i < 20; i++) await kinds[name]();
      for (let i = 0; i < BLOCK; i++) {
        const start = process.hrtime.bigint();
        await kinds[name]();
        samples[name].push(Number(process.hrtime.bigint() - start) / 1000);
      }
    }
  }
  return Object.fromEntries(names.map((name) => [name, percentiles(samples[name])]));
}

function percentiles(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: at(0.5), p99: at(0.99) };
}

async function echoPipelined(dealer) {
  const message = new Uint8Array(16);
  const start = process.hrtime.bigint();
  const received = (async () => {
    for (let i = 0; i < PIPELINED; i++) await dealer.receive();
  })();
  for (let i = 0; i < PIPELINED; i++) await dealer.send(message);
  await received;
  return PIPELINED / (Number(process.hrtime.bigint() - start) / 1e9);
}

/** `count` requests with `window` in flight at once. */
async function pipelined(count, window, request) {
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: window }, async () => {
      while (next++ < count) await request();
    }),
  );
  return count / (Number(process.hrtime.bigint() - start) / 1e9);
}

/** The echo and the bridge at two endpoints, both running: round trips interleaved, then pipelined runs one after another. */
async function transportFigures(echoEndpoint, bridgeEndpoint, unpackedEndpoint) {
  return withPeer(['echo', echoEndpoint], () =>
    withPeer(['serve', bridgeEndpoint, ':memory:'], async () => {
      const dealer = new Dealer({ sendHighWaterMark: 0, receiveHighWaterMark: 0, linger: 0 });
      dealer.connect(echoEndpoint);
      const message = new Uint8Array(16);
      const client = await connect(bridgeEndpoint);
      const page = await client.createPage({ size: COMMIT_BYTES });
      const payload = dense(new Uint8Array(COMMIT_BYTES).fill(7));
      const trips = await roundTripBlocks({
        echo: async () => {
          await dealer.send(message);
          await dealer.receive();
        },
        ping: () => client.ping(),
        write: () => client.write(page.handle, payload),
      });
      const echoPerSecond = await echoPipelined(dealer);
      dealer.close();
      const pingsPerSecond = await pipelined(PIPELINED, 256, () => client.ping());
      const writesPerSecond = await pipelined(PIPELINED, 256, () => client.write(page.handle, payload));
      await client.close();
      // The same client against a server that announces no packing: one message per request.
      const unpackedPerSecond = await withPeer(['serve', unpackedEndpoint, ':memory:', 'never', '0'], async () => {
        const unpacked = await connect(unpackedEndpoint);
        const perSecond = await pipelined(PIPELINED, 256, () => unpacked.ping());
        await unpacked.close();
        return perSecond;
      });
      return {
        echo: { roundTrip: trips.echo, pipelinedPerSecond: echoPerSecond },
        bridge: {
          roundTrip: trips.ping,
          writeRoundTrip: trips.write,
          pipelinedPerSecond: pingsPerSecond,
          pipelinedWritesPerSecond: writesPerSecond,
          unpackedPipelinedPerSecond: unpackedPerSecond,
        },
      };
    }),
  );
}

/** Builds a C program of the durable-commit figures (the load generator, the C echo) into `directory`. */
function buildC(directory, source, name) {
  const binary = join(directory, name);
  execFileSync('cc', ['-O2', '-o', binary, source, '-lzmq'], { stdio: 'inherit' });
  return binary;
}

/** Operations per second that `CLIENTS` clients of commit-load, one request in flight each, complete against `endpoint`. */
function loadPerSecond(binary, endpoint, mode) {
  const output = execFileSync(binary, [endpoint, String(CLIENTS), String(RUN_MS / 1000), String(COMMIT_BYTES), mode], {
    encoding: 'utf8',
  });
  return Number(output.trim());
}

async function durableCommits() {
  const directory = mkdtempSync(join(tmpdir(), 'mmsb-bench-bridge-'));
  try {
    const binary = buildC(directory, loadGeneratorSource, 'commit-load');
    const cEcho = buildC(directory, echoServerSource, 'zmq-echo');
    const served = (transport) => {
      const endpoint = `ipc://${directory}/${transport || 'default'}.sock`;
      const data = join(directory, `data-${transport || 'default'}`);
      return withPeer(['serve', endpoint, data, 'always', '', transport], async () => loadPerSecond(binary, endpoint, 'bridge'));
    };
    const mmsb = await served('');
    const zeromqTransport = await served('zeromq');
    const redis = await withRedis('always', (port) => redisSetsPerSecond(port, CLIENTS, COMMIT_BYTES, 200_000));
    const echoEndpoint = `ipc://${directory}/echo.sock`;
    const echo = await withPeer(['echo', echoEndpoint], async () => loadPerSecond(binary, echoEndpoint, 'echo'));
    const cEchoEndpoint = `ipc://${directory}/c-echo.sock`;
    const cEchoPerSecond = await withProcess(cEcho, [cEchoEndpoint], async () => loadPerSecond(binary, cEchoEndpoint, 'echo'));
    return {
      mmsbPerSecond: mmsb,
      zeromqTransportPerSecond: zeromqTransport,
      redisPerSecond: redis,
      ratio: mmsb / redis,
      echoPerSecond: echo,
      echoOverRedis: echo / redis,
      cEchoPerSecond,
      cEchoOverRedis: cEchoPerSecond / redis,
    };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

async function bulkRead() {
  const directory = mkdtempSync(join(tmpdir(), 'mmsb-bench-bridge-'));
  const endpoint = `ipc://${directory}/s.sock`;
  try {
    return await withPeer(['serve', endpoint, ':memory:'], async () => {
      const client = await connect(endpoint);
      const page = await client.createPage({ size: BULK });
      await client.write(page.handle, dense(new Uint8Array(BULK).fill(9)));
      const time = async (body) => {
        const samples = [];
        for (let i = 0; i < 7; i++) {
          const start = process.hrtime.bigint();
          await body();
          samples.push(Number(process.hrtime.bigint() - start) / 1e6);
        }
        return median(samples);
      };
      const source = new Uint8Array(BULK).fill(3);
      const target = new Uint8Array(BULK);
      const memcpyMs = await time(() => target.set(source));
      const shmMs = await time(() => client.read(page.handle, { via: 'shm' }));
      const viewMs = await time(() => client.readView(page.handle, { via: 'shm' }));
      const inlineMs = await time(() => client.read(page.handle, { via: 'inline' }));
      await client.close();
      const gbps = (ms) => BULK / (ms * 1e6);
      return {
        memcpyMs,
        shmMs,
        viewMs,
        inlineMs,
        memcpyGBps: gbps(memcpyMs),
        shmGBps: gbps(shmMs),
        viewGBps: gbps(viewMs),
        inlineGBps: gbps(inlineMs),
        shmOverMemcpy: memcpyMs / shmMs,
        shmOverInline: inlineMs / shmMs,
      };
    });
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

function goals(report) {
  const rows = [];
  for (const transport of ['ipc', 'tcp']) {
    const { echo, bridge } = report[transport];
    rows.push({
      goal: `round trip p50 over ${transport} ≤ 1.3× the raw echo`,
      measured: `${(bridge.roundTrip.p50 / echo.roundTrip.p50).toFixed(2)}× (${bridge.roundTrip.p50.toFixed(0)} µs vs ${echo.roundTrip.p50.toFixed(0)} µs)`,
      met: bridge.roundTrip.p50 <= 1.3 * echo.roundTrip.p50,
    });
    rows.push({
      goal: `round trip p99 over ${transport} ≤ 1.3× the raw echo`,
      measured: `${(bridge.roundTrip.p99 / echo.roundTrip.p99).toFixed(2)}× (${bridge.roundTrip.p99.toFixed(0)} µs vs ${echo.roundTrip.p99.toFixed(0)} µs)`,
      met: bridge.roundTrip.p99 <= 1.3 * echo.roundTrip.p99,
    });
  }
  rows.push({
    goal: '≥ 80k pipelined operations per second (ipc)',
    measured: `${Math.round(report.ipc.bridge.pipelinedPerSecond)}/s (raw echo ${Math.round(report.ipc.echo.pipelinedPerSecond)}/s)`,
    met: report.ipc.bridge.pipelinedPerSecond >= 80_000,
  });
  rows.push({
    goal: 'durable commits with 64 clients ≥ Redis (appendfsync always)',
    measured: `${report.durable.ratio.toFixed(2)}× (${Math.round(report.durable.mmsbPerSecond)}/s vs ${Math.round(report.durable.redisPerSecond)}/s)`,
    met: report.durable.ratio >= 1,
  });
  rows.push({
    goal: '64 MiB read through shared memory (`readView`) ≥ 0.5× memcpy bandwidth',
    measured: `${(report.bulk.memcpyMs / report.bulk.viewMs).toFixed(2)}× (${report.bulk.viewGBps.toFixed(2)} GB/s vs ${report.bulk.memcpyGBps.toFixed(2)} GB/s); \`read\`, which copies into a new array, ${report.bulk.shmOverMemcpy.toFixed(2)}×`,
    met: report.bulk.memcpyMs / report.bulk.viewMs >= 0.5,
  });
  return rows;
}

function markdown(report) {
  const us = (value) => `${value.toFixed(0)} µs`;
  return [
    '# Bridge benchmark',
    '',
    `Run ${report.machine.date} on ${report.machine.cpu} (${report.machine.cores} cores), ${report.machine.node}, commit ${report.machine.commit}.`,
    'Every peer ran in the same run on the same machine; the server and the echo are separate processes.',
    'Goals are judged on the default configuration (the client and `mmsb serve` as shipped); variants stand beside it.',
    '',
    '## Goals',
    '',
    '| goal | measured | met |',
    '|---|---|---|',
    ...report.goals.map((row) => `| ${row.goal} | ${row.measured} | ${row.met ? 'yes' : 'no'} |`),
    '',
    ...(report.beside === undefined
      ? []
      : [
          `The other run, ${report.beside.date} (commit ${report.beside.commit}), beside this one, the run of record:`,
          '',
          '| goal | measured | met |',
          '|---|---|---|',
          ...report.beside.goals.map((row) => `| ${row.goal} | ${row.measured} | ${row.met ? 'yes' : 'no'} |`),
          '',
        ]),
    '## Round trips and pipelining',
    '',
    '| transport | raw echo p50 / p99 | bridge ping p50 / p99 | bridge 64 B write p50 / p99 | echo pipelined | bridge pipelined pings | bridge pipelined writes | pings, server without packing |',
    '|---|---|---|---|---|---|---|---|',
    ...['ipc', 'tcp'].map((transport) => {
      const { echo, bridge } = report[transport];
      return `| ${transport} | ${us(echo.roundTrip.p50)} / ${us(echo.roundTrip.p99)} | ${us(bridge.roundTrip.p50)} / ${us(bridge.roundTrip.p99)} | ${us(bridge.writeRoundTrip.p50)} / ${us(bridge.writeRoundTrip.p99)} | ${Math.round(echo.pipelinedPerSecond)}/s | ${Math.round(bridge.pipelinedPerSecond)}/s | ${Math.round(bridge.pipelinedWritesPerSecond)}/s | ${Math.round(bridge.unpackedPipelinedPerSecond)}/s |`;
    }),
    '',
    `Round trips: the echo and the bridge server run at once (two endpoints); their ${ROUND_TRIPS} samples each are taken in`,
    `alternating blocks of ${BLOCK} back-to-back round trips (echo, ping, write, each block after 20 unmeasured), so that all`,
    'three see the same load of this shared 2-core machine and each is measured warm, as a lone client sees it (after',
    `${WARM_UP} unmeasured round trips of each kind: V8 compiles both processes' paths during the first thousands).`,
    'Writes here go to an in-memory bus; pipelined runs keep 256 requests in flight from one client (`Promise.all`-style',
    'windows). The client packs the requests issued in one turn of the event loop into one message and the server answers',
    'them in one (docs/protocol.md, "Packed messages"); the echo sends one ZeroMQ message per request, so its rate is',
    "ZeroMQ's message rate. The last column is the same client against a server that announces no packing: one message",
    'per request, as MMSB.jl and the Python client send them.',
    '',
    '## Durable commits, 64 clients',
    '',
    `Load generator: \`commit-load.c\` (C and libzmq, built by the benchmark), ${CLIENTS} DEALER sockets in one thread, each with`,
    `one request in flight, as \`redis-benchmark -c ${CLIENTS}\` drives Redis. MMSB: each client writes its own ${COMMIT_BYTES} B page,`,
    `every write awaited and its response checked, the bridge server with fsync always.`,
    '',
    '| server | commits (or echoes) per second | × Redis |',
    '|---|---|---|',
    ...[
      ['MMSB, `mmsb serve` as shipped (the native request socket)', report.durable.mmsbPerSecond],
      ['MMSB, request socket on zeromq.js', report.durable.zeromqTransportPerSecond],
      [`Redis, \`redis-benchmark -c ${CLIENTS} -t set -d ${COMMIT_BYTES}\`, AOF with appendfsync always`, report.durable.redisPerSecond],
      ['a raw zeromq.js echo (no server work, no disk)', report.durable.echoPerSecond],
      ['a C echo over libzmq (`zmq-echo.c`: no work, no disk, every waiting message per wake-up)', report.durable.cEchoPerSecond],
    ].map(
      ([server, perSecond]) => `| ${server} | ${Math.round(perSecond)}/s | ${(perSecond / report.durable.redisPerSecond).toFixed(2)}× |`,
    ),
    '',
    "The echoes bound what any ZeroMQ server reaches under this load on this machine: the load generator's own",
    'ZeroMQ cost (an I/O thread beside its thread, woken for every message) shares the 2 cores with the server, so even',
    'a C server that does nothing answers about as fast as Redis commits. Nothing is packed (one request in flight per',
    "client). The ratios swing with the disk: a slow fsync favours group commit (each sync carries many clients'",
    'writes), a fast one leaves both sides bound by per-message CPU. docs/gpu-validation.md, "Bridge on 16 cores",',
    'has the same figures on a machine with cores to spare.',
    '',
    '## 64 MiB read',
    '',
    '| path | median | bandwidth |',
    '|---|---|---|',
    `| memcpy (baseline) | ${report.bulk.memcpyMs.toFixed(1)} ms | ${report.bulk.memcpyGBps.toFixed(2)} GB/s |`,
    `| shared memory, \`read\` (the server writes the read file with pwrite, the client copies out of its mapping) | ${report.bulk.shmMs.toFixed(1)} ms | ${report.bulk.shmGBps.toFixed(2)} GB/s |`,
    `| shared memory, \`readView\` (the client uses its mapping: the server's pwrite is the one copy) | ${report.bulk.viewMs.toFixed(1)} ms | ${report.bulk.viewGBps.toFixed(2)} GB/s |`,
    `| inline (one 64 MiB message) | ${report.bulk.inlineMs.toFixed(1)} ms | ${report.bulk.inlineGBps.toFixed(2)} GB/s |`,
    '',
    'MMSB.jl and the Python client map the read file as `readView` does: that is the shared-memory read, and the goal is',
    'judged on it. `read` adds a copy into a newly allocated array, whose first-touch page faults dominate here; memcpy',
    'copies into an array allocated (and touched) before the timer. The server writes with pwrite, not through a',
    'mapping, so that a client truncating the file or a full /dev/shm is an error and never a SIGBUS; that pwrite into',
    'tmpfs is the one copy `readView` pays, and its bandwidth on this shared virtual machine swings from run to run.',
    '',
  ].join('\n');
}

async function main() {
  const directory = mkdtempSync(join(tmpdir(), 'mmsb-bench-bridge-'));
  try {
    const report = { machine: machineInfo() };
    const port = 30000 + Math.floor(Math.random() * 20000);
    for (const [transport, endpoint] of [
      ['ipc', (name) => `ipc://${directory}/${name}.sock`],
      ['tcp', (name) => `tcp://127.0.0.1:${port + ['echo', 'bridge', 'unpacked'].indexOf(name)}`],
    ]) {
      report[transport] = await transportFigures(endpoint('echo'), endpoint('bridge'), endpoint('unpacked'));
    }
    report.durable = await durableCommits();
    report.bulk = await bulkRead();
    report.goals = goals(report);
    if (BESIDE !== undefined) {
      const other = JSON.parse(readFileSync(BESIDE, 'utf8'));
      report.beside = { date: other.machine.date, commit: other.machine.commit, goals: other.goals };
    }
    writeFileSync(join(reportDirectory, 'bridge.json'), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(reportDirectory, 'bridge.md'), markdown(report));
    process.stdout.write(markdown(report));
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

await main();
