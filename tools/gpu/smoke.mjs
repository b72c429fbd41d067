// The bus on a GPU machine, through the built addon (docs/gpu-validation.md):
// gpu, unified and heap twins of the same pages take the same deltas and must
// read back the same bytes, with one state hash; residency calls work; a
// managed page's view is live. Exits 1 on the first difference.
import { Bus, cudaInfo, dense, ranges, sparseFromBytes } from '@mmsb/bus';

const fail = (what) => {
  console.error(`FAIL: ${what}`);
  process.exit(1);
};
const same = (a, b) => a.length === b.length && a.every((value, index) => value === b[index]);

const info = cudaInfo();
console.log(JSON.stringify({ cuda: info }));
if (!info.available) fail('no CUDA');

const size = 16 << 20;
const memories = ['device', 'managed', 'heap'];
const buses = [];
for (const memory of memories) {
  const bus = await Bus.open(':memory:');
  const id = await bus.createPage({ size, location: 'gpu', memory });
  buses.push({ bus, id, memory });
}
let seed = 1;
const random = (length) => Uint8Array.from({ length }, () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
const started = performance.now();
for (let round = 0; round < 12; round += 1) {
  const payload =
    round % 3 === 0
      ? dense(random(size))
      : round % 3 === 1
        ? sparseFromBytes(
            size,
            Array.from({ length: 2000 }, (_, i) => [(i * 8191 + round) % size, round]),
          )
        : ranges([
            { offset: round * 1000, bytes: random(70000) },
            { offset: size - 5000, bytes: random(5000) },
          ]);
  for (const { bus, id } of buses) await bus.apply({ pageId: id, payload });
}
const applyMs = performance.now() - started;
const [device, managed, heap] = buses;
const expected = heap.bus.read(heap.id);
for (const twin of [device, managed]) {
  if (!same(twin.bus.read(twin.id), expected)) fail(`${twin.memory} bytes differ from heap`);
  if (twin.bus.stateHash() !== heap.bus.stateHash()) fail(`${twin.memory} state hash differs`);
}
const residency = device.bus.residency(device.id);
device.bus.evict(device.id);
const evicted = device.bus.residency(device.id);
device.bus.prefetch(device.id);
const pointer = device.bus.devicePointer(device.id);
if (pointer.pointer === 0n || pointer.size !== size) fail('device pointer');
const view = managed.bus.view(managed.id);
await managed.bus.apply({ pageId: managed.id, payload: dense(new Uint8Array(size).fill(7)) });
if (view[size - 1] !== 7) fail('a managed page view is not live');
let refused = '';
try {
  device.bus.view(device.id);
} catch (error) {
  refused = error.code;
}
if (refused !== 'MEMORY_UNSUITABLE') fail(`a device page view gave ${refused}`);
console.log(
  JSON.stringify({ ok: true, applyMs: Math.round(applyMs), residency, evicted, pointer: { ...pointer, pointer: String(pointer.pointer) } }),
);
for (const { bus } of buses) await bus.close();
