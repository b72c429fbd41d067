/** Durations as the command line writes them: a number and a unit (`60s`, `10m`, `1h`, `7d`). */
import { ErrorCode, MmsbError } from '@mmsb/bus';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Parses `text` as a duration in ms, between `lowestMs` and `highestMs`, or throws INVALID_ARGUMENT naming `what`. */
export function parseDuration(text: string, what: string, lowestMs: number, highestMs: number): number {
  const match = /^([0-9]{1,9}(?:\.[0-9]{1,3})?)(ms|s|m|h|d)$/.exec(text);
  const ms = match === null ? Number.NaN : Math.round(Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]);
  if (!(ms >= lowestMs && ms <= highestMs)) {
    throw new MmsbError(
      ErrorCode.INVALID_ARGUMENT,
      `${what} must be a number and a unit (ms, s, m, h, d) from ${formatDuration(lowestMs)} to ${formatDuration(highestMs)}, ` +
        `as in 60s, 10m, 1h or 7d (got ${JSON.stringify(text)})`,
    );
  }
  return ms;
}

/** `1h2m3s`-style text, to the second (ms below a second). */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let seconds = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (seconds >= size) {
      parts.push(`${Math.floor(seconds / size)}${unit}`);
      seconds %= size;
    }
  }
  if (seconds > 0 || parts.length === 0) parts.push(`${seconds}s`);
  return parts.join('');
}
