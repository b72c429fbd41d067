import { Bus, dense } from '@mmsb/bus';
const nodes = [[], [0], ...Array.from({ length: 100 }, (_, i) => [i + 1])];
const compute = (inputs) => 0;
let count = 0;
const bus = Bus.memory();
const ids = await bus.createPages(nodes.length, { size: 8 });
const allocating = (parents) => { count++; const out = new Uint8Array(8); out[0] = compute(parents.map((parent) => parent[0])); return out; };
for (const [index, inputs] of nodes.entries()) { for (const input of inputs) await bus.addEdge(ids[input], ids[index]); if (index > 0) bus.recompute(ids[index], allocating); }
const payloads = Array.from({ length: 256 }, (_, value) => dense(Uint8Array.of(value, 0, 0, 0, 0, 0, 0, 0)));
for (let r = 0; r < 5; r++) {
  const c0 = count; const t = performance.now();
  let i = 0; while (performance.now() - t < 1000) { await bus.apply({ pageId: ids[0], payload: payloads[i++ & 0xff] }); }
  console.log('recomputes/s', Math.round((count - c0) / ((performance.now() - t) / 1000)), 'waves/s', Math.round(i / ((performance.now() - t) / 1000)));
}
