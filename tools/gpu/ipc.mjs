// Zero-copy export to another process on a GPU machine (docs/gpu-validation.md):
// a `device` page exported with @mmsb/gpu's `exportIpc` is opened by a
// Python process (tools/gpu/ipc_peer.py) through CuPy and PyTorch, which must
// read the page's exact bytes in place, and then see each later delta
// through the same mapping, without opening it again. Exits 1 on the first
// difference. Usage: node ipc.mjs [python]
import { spawn } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { Bus, cudaInfo, dense, ranges, sparseFromBytes } from '@mmsb/bus';
import { ResidencyManager } from '@mmsb/gpu';

const fail = (what) => {
  console.error(`FAIL: ${what}`);
  process.exit(1);
};

if (!cudaInfo().available) fail('no CUDA');
const size = 64 << 20;
const bus = await Bus.open(':memory:');
const gpu = new ResidencyManager(bus, { budgetBytes: 4 * size });
const id = await bus.createPage({ size, location: 'gpu' });
gpu.track(id);
await bus.apply({ pageId: id, payload: dense(randomFillSync(new Uint8Array(size))) });
const shared = gpu.exportIpc(id);

const peer = spawn(process.argv[2] ?? 'python3', [
  fileURLToPath(new URL('./ipc_peer.py', import.meta.url)),
  Buffer.from(shared.handle).toString('hex'),
  String(shared.byteLength),
  String(shared.device.id),
]);
peer.stderr.pipe(process.stderr);
const answers = createInterface({ input: peer.stdout })[Symbol.asyncIterator]();

/** Sends one line to the peer and returns its answer (a JSON object). */
async function ask(line) {
  peer.stdin.write(`${line}\n`);
  const { value, done } = await answers.next();
  if (done) fail(`the peer exited before answering "${line}"`);
  const answer = JSON.parse(value);
  console.log(JSON.stringify(answer));
  return answer;
}

const digest = () => createHash('sha256').update(bus.read(id)).digest('hex');
const opened = await ask(`check ${digest()}`);
if (!opened.equal) fail('the peer read other bytes than the page holds');
const changes = [
  dense(randomFillSync(new Uint8Array(size))),
  sparseFromBytes(
    size,
    Array.from({ length: 5000 }, (_, index) => [(index * 13_421) % size, index & 0xff]),
  ),
  ranges([
    { offset: 17, bytes: randomFillSync(new Uint8Array(1 << 20)) },
    { offset: size - 4096, bytes: randomFillSync(new Uint8Array(4096)) },
  ]),
];
for (const payload of changes) {
  await bus.apply({ pageId: id, payload });
  const seen = await ask(`check ${digest()}`);
  if (!seen.equal) fail(`the peer's mapping missed a ${payload.kind} delta`);
  if (seen.pointer !== opened.pointer) fail('the peer opened the page again');
}
await ask('close');
peer.stdin.end();
const code = await new Promise((resolve) => peer.on('exit', resolve));
if (code !== 0) fail(`the peer exited with ${code}`);
const before = digest();
shared.release();
gpu.evict(id);
if (digest() !== before) fail('eviction after the export changed bytes');
await bus.close();
console.log(JSON.stringify({ ok: true, bytes: size, deltasSeenInPlace: changes.length, via: opened.via }));
