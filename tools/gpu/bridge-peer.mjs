// The server side of tools/gpu/bridge-cores.sh, staged as .device/bridge/peer.mjs:
// `echo <endpoint>` is the raw zeromq.js echo; `serve <endpoint> <data> <native|zeromq>`
// is the bridge server over a bus with fsync always, on that request socket. On SIGTERM
// the server prints, on stderr, how busy its JavaScript thread was and what its group
// commit did: whether the thread or the disk bounds the rate.
import { readFileSync } from 'node:fs';
import { Router } from 'zeromq';

/** CPU seconds of this process's main thread (Linux: utime and stime, in clock ticks of 1/100 s). */
function mainThreadSeconds() {
  const fields = readFileSync(`/proc/${process.pid}/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const [mode, endpoint, data, transport] = process.argv.slice(2);
if (mode === 'echo') {
  const router = new Router({ sendHighWaterMark: 0, receiveHighWaterMark: 0 });
  await router.bind(endpoint);
  process.stdout.write('ready\n');
  for await (const frames of router) await router.send(frames);
} else {
  const { Bus } = await import('@mmsb/bus');
  // The server module alone: the package's index also loads `mmsb serve`'s metrics, not staged.
  const { BridgeServer } = await import(new URL('node_modules/@mmsb/julia-bridge/dist/server.js', import.meta.url).href);
  const bus = await Bus.open(data, { fsync: 'always' });
  await BridgeServer.start({ bus, endpoint, transport });
  process.stdout.write('ready\n');
  const started = { at: performance.now(), thread: mainThreadSeconds(), process: process.cpuUsage() };
  process.on('SIGTERM', () => {
    const seconds = (performance.now() - started.at) / 1000;
    const used = process.cpuUsage(started.process);
    const { logSyncs, logSyncNanos } = bus.stats();
    process.stderr.write(
      `  JS thread ${((mainThreadSeconds() - started.thread) / seconds).toFixed(2)} busy, process ${((used.user + used.system) / 1e6 / seconds).toFixed(2)} cores;` +
        ` ${(bus.lsn / bus.syncs).toFixed(1)} commits per sync, one each ${((seconds * 1e6) / bus.syncs).toFixed(0)} µs, fdatasync ${(logSyncNanos / logSyncs / 1000).toFixed(0)} µs\n`,
    );
    process.exit(0);
  });
}
