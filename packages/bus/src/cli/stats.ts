/**
 * `mmsb stats <dir|endpoint>`: the figures `@mmsb/metrics` serves, as
 * tables for a person at a terminal. Given a directory it opens it (so it
 * recovers it, and is refused while another process holds it: ask that
 * process's endpoint then); counts of operations start at zero on open, so
 * what a directory shows is its size, its log, its checkpoints and what
 * recovery took. Given an `http://` URL it reads that `/metrics` endpoint:
 * the live figures of a serving process, the bridge's included.
 *
 * The renderer lives here, in @mmsb/bus, and reads `bus.stats()` directly:
 * @mmsb/metrics depends on @mmsb/bus, so the CLI cannot use it without a
 * dependency cycle.
 */
import { Bus } from '../bus.js';
import { ErrorCode, MmsbError } from '../errors.js';
import type { BusStats, HistogramSnapshot } from '../stats.js';
import { parseScrape, type Scrape } from './exposition.js';
import { formatBytes, formatCount, table } from './format.js';
import type { Print } from './main.js';

/** Formats seconds with a unit that keeps three significant figures or so. */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '-';
  if (seconds >= 1) return `${seconds.toFixed(2)} s`;
  if (seconds >= 1e-3) return `${(seconds * 1e3).toFixed(2)} ms`;
  return `${(seconds * 1e6).toFixed(1)} µs`;
}

/**
 * The `q` quantile of a histogram, interpolated linearly inside its bucket
 * as Prometheus's `histogram_quantile` does; NaN without observations, the
 * highest finite bound when it falls in the +Inf bucket.
 */
export function quantile(histogram: HistogramSnapshot, q: number): number {
  if (histogram.count === 0) return NaN;
  const rank = q * histogram.count;
  let below = 0;
  for (const [index, count] of histogram.counts.entries()) {
    if (below + count >= rank && count > 0) {
      const upper = histogram.bounds[index];
      if (upper === undefined) return histogram.bounds.at(-1) ?? NaN;
      const lower = index === 0 ? 0 : histogram.bounds[index - 1]!;
      return lower + (upper - lower) * ((rank - below) / count);
    }
    below += count;
  }
  return histogram.bounds.at(-1) ?? NaN;
}

type Stats = ReturnType<Bus['stats']>;

function figures(stats: Stats): string[][] {
  const memories = ['Heap', 'Arena', 'Mapped', 'Device', 'Managed'] as const;
  const cells = stats as unknown as Record<string, number>;
  return [
    ['pages', 'live', formatCount(stats.pagesLive), formatBytes(stats.pageBytes)],
    ...memories.map((memory) => [
      'pages',
      memory.toLowerCase(),
      formatCount(cells[`pages${memory}`]!),
      formatBytes(cells[`pageBytes${memory}`]!),
    ]),
    ['log', 'LSN (durable)', `${formatCount(stats.lsn)} (${formatCount(stats.durableLsn)})`, ''],
    ['log', 'segments', formatCount(stats.logSegments), ''],
    ['log', 'appended', formatCount(stats.logAppends), formatBytes(stats.logBytes)],
    ['log', 'syncs', formatCount(stats.logSyncs), ''],
    ['deltas', 'dense / sparse / ranges', [stats.deltasDense, stats.deltasSparse, stats.deltasRanges].map(formatCount).join(' / '), ''],
    [
      'checkpoints',
      'written (last)',
      formatCount(stats.checkpoints),
      `${formatBytes(stats.checkpointBytes)} (${formatBytes(stats.checkpointLastBytes)})`,
    ],
    ['checkpoints', 'due', stats.checkpointDue === 1 ? 'yes' : 'no', ''],
    ['recovery', 'replayed', formatCount(stats.recoveryRecords), formatSeconds(stats.recoveryNanos / 1e9)],
    ['propagation', 'waves (failed)', `${formatCount(stats.propagation.waves)} (${formatCount(stats.propagation.failed)})`, ''],
    [
      'propagation',
      'recomputed: changed / cut off',
      `${formatCount(stats.propagation.changed)} / ${formatCount(stats.propagation.cutOff)}`,
      '',
    ],
  ];
}

const histogramRows: readonly (readonly [keyof BusStats['histograms'], string, boolean])[] = [
  ['applySeconds', 'apply', true],
  ['logSyncSeconds', 'log fsync', true],
  ['logSyncRecords', 'records per fsync', false],
  ['checkpointSeconds', 'checkpoint', true],
  ['waveSeconds', 'propagation wave', true],
];

function latencies(stats: Stats): string[][] {
  return histogramRows.map(([key, label, seconds]) => {
    const histogram = stats.histograms[key];
    const format = seconds ? formatSeconds : (value: number) => (Number.isFinite(value) ? value.toFixed(1) : '-');
    const mean = histogram.count === 0 ? NaN : histogram.sum / histogram.count;
    return [label, formatCount(histogram.count), format(mean), format(quantile(histogram, 0.5)), format(quantile(histogram, 0.99))];
  });
}

/** Prints the tables of a bus's statistics. */
export function printStats(stats: Stats, print: Print): void {
  table(['area', 'figure', 'count', 'bytes / time'], figures(stats), ['count', 'bytes / time']).forEach((line) => print(line));
  print('');
  table(['histogram', 'count', 'mean', 'p50', 'p99'], latencies(stats), ['count', 'mean', 'p50', 'p99']).forEach((line) => print(line));
}

/** A scraped value in its unit, by the Prometheus name's suffix. */
function formatScraped(name: string, value: number): string {
  if (/_bytes(_total)?$/.test(name)) return formatBytes(value);
  if (/_seconds(_total)?$/.test(name)) return formatSeconds(value);
  return formatCount(value);
}

/** Prints the tables of a scrape: every value, then every histogram with its percentiles. */
export function printScrape(scrape: Scrape, print: Print): void {
  const rows = scrape.values.map(({ name, labels, value }) => [name, labels, formatScraped(name, value)]);
  table(['metric', 'labels', 'value'], rows, ['value']).forEach((line) => print(line));
  print('');
  const histogramRows = scrape.histograms.map((histogram) => {
    const format = (value: number) =>
      histogram.name.endsWith('_seconds') ? formatSeconds(value) : Number.isFinite(value) ? value.toFixed(1) : '-';
    const mean = histogram.count === 0 ? NaN : histogram.sum / histogram.count;
    const quantiles = [0.5, 0.99].map((q) => format(quantile(histogram, q)));
    return [histogram.name, histogram.labels, formatCount(histogram.count), format(mean), ...quantiles];
  });
  table(['histogram', 'labels', 'count', 'mean', 'p50', 'p99'], histogramRows, ['count', 'mean', 'p50', 'p99']).forEach((line) =>
    print(line),
  );
}

/** `mmsb stats <dir|endpoint>`: prints the figures of a directory, or of a serving process's `/metrics`. */
export async function runStats(target: string, print: Print): Promise<void> {
  if (/^https?:\/\//.test(target)) {
    const response = await fetch(target).catch((error: unknown) => {
      throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `${target}: ${String(error)}`);
    });
    if (!response.ok) throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `${target}: HTTP ${response.status}`);
    print(`${target}:`);
    printScrape(parseScrape(await response.text()), print);
    return;
  }
  const directory = target;
  const bus = await Bus.open(directory);
  try {
    print(`${directory}:`);
    printStats(bus.stats(), print);
  } finally {
    await bus.close();
  }
}
