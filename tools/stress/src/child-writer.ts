/**
 * The child writer, a process of its own that the parent kills with SIGKILL
 * at a random moment. It continues the crash workload from operation
 * `start` on a data directory with several concurrent writers, and reports
 * over its stdout (a pipe: written synchronously) "s k" before operation k
 * starts and "a k lsn" once its acknowledgement has been awaited (`lsn`: its
 * log record). Arguments: directory seed start writers fsync syncThread.
 */
import { Bus, type FsyncPolicy } from '@mmsb/bus';

import { CRASH_PAGE_IDS, crashOperation, performCrashOperation } from './crash-workload.js';
import { Pacer } from './pace.js';

/** Operations a second over the child's writers: what matters is where a kill lands, not how many operations precede it. */
const OPERATIONS_PER_SECOND = 500;

const [directory, seedText, startText, writersText, fsync, syncThread] = process.argv.slice(2);
const seed = Number(seedText);
const report = (line: string): void => void process.stdout.write(`${line}\n`);

const bus = await Bus.open(directory!, {
  fsync: fsync as FsyncPolicy,
  syncThread: syncThread as 'worker' | 'main',
  fsyncIntervalMs: 20,
  segmentBytes: 64 * 1024,
  checkpointEveryBytes: 256 * 1024,
  checkpointsRetained: 2,
});
let next = Number(startText);
if (next === 0) {
  report('s 0');
  const created = performCrashOperation(bus, crashOperation(seed, 0));
  const lsn = bus.lsn;
  const ids = (await created) as number[];
  if (ids.join() !== CRASH_PAGE_IDS.join()) throw new Error(`the pages of a fresh directory got ids ${ids.join()}`);
  report(`a 0 ${lsn}`);
  next = 1;
}
report('ready');

const pacer = new Pacer(OPERATIONS_PER_SECOND);

async function writer(): Promise<void> {
  for (;;) {
    const k = next++;
    const operation = crashOperation(seed, k);
    // Before the operation: a kill between its record and a later line must not hide it from the parent.
    report(`s ${k}`);
    const acknowledged = performCrashOperation(bus, operation);
    const lsn = bus.lsn;
    await acknowledged;
    report(`a ${k} ${lsn}`);
    await pacer.turn();
  }
}

await Promise.all(Array.from({ length: Number(writersText) }, writer));
