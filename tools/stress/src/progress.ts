/** The progress line the run prints periodically. */
import { formatDuration } from './durations.js';
import type { MemoryWatch } from './memory.js';
import type { Tally } from './tally.js';

const count = (value: number): string => value.toLocaleString('en-US');

export function progressLine(elapsedMs: number, tally: Tally, memory: MemoryWatch, violations: number): string {
  const perSecond = Math.round(tally.operations / Math.max(1, elapsedMs / 1000));
  return [
    `[${formatDuration(elapsedMs).padStart(8)}]`,
    `ops ${count(tally.operations)} (${count(perSecond)}/s)`,
    `kills ${count(tally.kills)}`,
    `checkpoints ${count(tally.checkpoints)}`,
    `waves ${count(tally.waves)}`,
    `reopens ${count(tally.reopens)}`,
    `time travel ${count(tally.timeTravelReads)}`,
    `sessions ${count(tally.bridgeSessions)}`,
    `rss ${Math.round(memory.currentBytes / (1024 * 1024))} MiB`,
    `violations ${count(violations)}`,
  ].join('  ');
}
