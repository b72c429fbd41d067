// A worker of the hardening test's race: rewrites shared buffers in a tight
// loop until the stop flag is set, so every native call that borrows them
// may see them change between two reads.
//
// workerData: { stop: SharedArrayBuffer (Int32Array flag), buffers: [{ buffer, pattern }] }
// patterns: 'count' fills with a changing byte; 'emptyOrFull' alternates 0x00
// and 0xff (a mask whose bit count jumps between 0 and all); 'half' alternates
// 0x0f and 0xf0 (a mask whose bit count never changes, but whose bits do).
import { parentPort, workerData } from 'node:worker_threads';

const stop = new Int32Array(workerData.stop);
const targets = workerData.buffers.map(({ buffer, pattern }) => ({ bytes: new Uint8Array(buffer), pattern }));
const fills = {
  count: (round) => round & 0xff,
  emptyOrFull: (round) => (round & 1 ? 0xff : 0x00),
  half: (round) => (round & 1 ? 0xf0 : 0x0f),
};

parentPort.postMessage('running');
for (let round = 0; Atomics.load(stop, 0) === 0; round++) {
  for (const { bytes, pattern } of targets) bytes.fill(fills[pattern](round));
}
