// The other process of the bridge benchmark: `echo <endpoint>` runs a raw
// zeromq.js ROUTER that sends every message back (the baseline), `serve
// <endpoint> <data|:memory:> [fsync] [maxPackedRequests] [transport]` runs
// the bridge server with a 128 MiB message limit (so a 64 MiB page can also
// be read inline), the given packing limit (0: it announces none; empty: the
// default) and request socket (native or zeromq; the default when absent).
// Prints "ready".
import { Bus } from '@mmsb/bus';
import { BridgeServer } from '@mmsb/julia-bridge';
import { Router } from 'zeromq';

const [mode, endpoint, data, fsync, packed, transport] = process.argv.slice(2);

if (mode === 'echo') {
  const router = new Router({ sendHighWaterMark: 0, receiveHighWaterMark: 0 });
  await router.bind(endpoint);
  process.stdout.write('ready\n');
  for await (const frames of router) await router.send(frames);
} else {
  const bus = data === ':memory:' ? Bus.memory() : await Bus.open(data, { fsync });
  const limits = {
    maxMessageBytes: 128 * 2 ** 20,
    ...(packed === undefined || packed === '' ? {} : { maxPackedRequests: Number(packed) }),
  };
  await BridgeServer.start({ bus, endpoint, limits, transport: transport === '' ? undefined : transport });
  process.stdout.write('ready\n');
}
