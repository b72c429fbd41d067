// The server side of tools/gpu/bridge-cores.sh, staged as .device/bridge/peer.mjs:
// `echo <endpoint>` is the raw zeromq.js echo; `serve <endpoint> <data> <native|zeromq>`
// is the bridge server over a bus with fsync always, on that request socket.
import { Router } from 'zeromq';

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
}
