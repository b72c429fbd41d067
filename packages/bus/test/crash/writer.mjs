// The crash test's child: continues the workload from operation `start` on a
// data directory with fsync 'always' and several concurrent writers, printing
// "s k" when operation k is submitted and "a k" when it is acknowledged,
// until it is killed.
import { Bus } from '../../dist/index.js';
import { operation, setup } from './workload.mjs';

const [directory, startText, seedText, writersText] = process.argv.slice(2);
const seed = Number(seedText);
const bus = await Bus.open(directory, { fsync: 'always', segmentBytes: 64 * 1024, checkpointEveryBytes: 256 * 1024 });
let next = Number(startText);
if (next === 0) {
  process.stdout.write('s 0\n');
  await setup(bus);
  process.stdout.write('a 0\n');
  next = 1;
}
process.stdout.write('ready\n');

async function writer() {
  for (;;) {
    const k = next++;
    const perform = operation(k, seed);
    process.stdout.write(`s ${k}\n`);
    await perform(bus);
    process.stdout.write(`a ${k}\n`);
  }
}

await Promise.all(Array.from({ length: Number(writersText) }, writer));
