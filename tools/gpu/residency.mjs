// @mmsb/gpu on a GPU machine (docs/gpu-validation.md): gpu pages on every
// device under a budget of three pages per device, driven by the residency
// manager (LRU eviction, a pinned page, moves between devices, a device
// descriptor), beside heap twins that take the same deltas. Every byte and
// the state hash must agree at the end. Exits 1 on the first difference.
import { randomFillSync } from 'node:crypto';

import { Bus, cudaInfo, dense, ranges, sparseFromBytes } from '@mmsb/bus';
import { ResidencyManager } from '@mmsb/gpu';

const fail = (what) => {
  console.error(`FAIL: ${what}`);
  process.exit(1);
};
const same = (a, b) => a.length === b.length && a.every((value, index) => value === b[index]);

const { available, devices } = cudaInfo();
if (!available) fail('no CUDA');
const size = 8 << 20;
const budget = 3 * size;
const bus = await Bus.open(':memory:');
const twin = await Bus.open(':memory:');
const gpu = new ResidencyManager(bus, { budgetBytes: budget });
const ids = [];
for (let index = 0; index < 10; index += 1) {
  bus.setDevice(index % devices);
  const id = await bus.createPage({ size, location: 'gpu' });
  await twin.createPage({ size, location: 'gpu', memory: 'heap' });
  gpu.track(id);
  ids.push(id);
}
const pinned = ids[0];
gpu.pin(pinned);
let moves = 0;
for (let step = 0; step < 300; step += 1) {
  const id = ids[Math.floor(Math.random() * ids.length)];
  gpu.use(id);
  const form = step % 3;
  const payload =
    form === 0
      ? dense(randomFillSync(new Uint8Array(size)))
      : form === 1
        ? sparseFromBytes(
            size,
            Array.from({ length: 500 }, (_, i) => [(i * 16411 + step * 7) % size, step & 255]),
          )
        : ranges([{ offset: (step * 4099) % (size - 70000), bytes: randomFillSync(new Uint8Array(70000)) }]);
  await bus.apply({ pageId: id, payload });
  await twin.apply({ pageId: id, payload });
  if (devices > 1 && step % 50 === 25 && id !== pinned) {
    await gpu.move(id, { device: 1 - bus.residency(id).device });
    moves += 1;
  }
  const stats = gpu.stats();
  for (const [device, bytes] of Object.entries(stats.residentBytes)) {
    if (bytes > budget) fail(`device ${device} holds ${bytes} bytes, over the budget of ${budget}`);
  }
  if (bus.residency(pinned).deviceBytes === 0) fail('the pinned page was evicted');
}
for (const id of ids) {
  if (!same(bus.read(id), twin.read(id))) fail(`page ${id} differs from its heap twin`);
}
if (bus.stateHash() !== twin.stateHash()) fail('state hashes differ');
const tensor = gpu.exportDevice(pinned);
if (tensor.data === 0n || tensor.byteLength !== size) fail('device descriptor');
tensor.release();
gpu.unpin(pinned);
const stats = gpu.stats();
if (stats.evictions === 0) fail('no eviction happened');
console.log(JSON.stringify({ ok: true, devices, moves, stats, descriptor: { ...tensor, data: String(tensor.data) } }));
await bus.close();
await twin.close();
