/**
 * Reads a Prometheus text exposition (what `/metrics` serves) into samples
 * and histograms, for `mmsb stats <endpoint>`. Lenient: it reads what
 * @mmsb/metrics writes and skips lines it does not understand; it checks
 * nothing (the metrics tests parse strictly).
 */
import type { HistogramSnapshot } from '../stats.js';

export interface ScrapedValue {
  readonly name: string;
  /** `{a="x",b="y"}` as written, or ''. */
  readonly labels: string;
  readonly value: number;
}

export interface ScrapedHistogram extends HistogramSnapshot {
  readonly name: string;
  readonly labels: string;
}

export interface Scrape {
  readonly values: readonly ScrapedValue[];
  readonly histograms: readonly ScrapedHistogram[];
}

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)/;

/** The labels without `le`, and `le`'s value. */
function splitLe(labels: string): [string, string | undefined] {
  const le = /,?le="([^"]*)"/.exec(labels);
  if (le === null) return [labels, undefined];
  const rest = labels.replace(le[0], '').replace('{,', '{');
  return [rest === '{}' ? '' : rest, le[1]];
}

export function parseScrape(text: string): Scrape {
  const types = new Map<string, string>();
  const values: ScrapedValue[] = [];
  const buckets = new Map<string, { name: string; labels: string; bounds: number[]; cumulative: number[]; sum: number }>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type !== null) types.set(type[1]!, type[2]!);
    const sample = sampleLine.exec(line);
    if (sample === null) continue;
    const [, name, labels = '', text] = sample as unknown as [string, string, string | undefined, string];
    const base = name.replace(/_(bucket|sum|count)$/, '');
    if (types.get(base) !== 'histogram') {
      values.push({ name, labels, value: Number(text) });
      continue;
    }
    const [series, le] = splitLe(labels);
    const key = `${base}${series}`;
    const histogram = buckets.get(key) ?? { name: base, labels: series, bounds: [], cumulative: [], sum: 0 };
    buckets.set(key, histogram);
    if (name.endsWith('_sum')) histogram.sum = Number(text);
    if (le !== undefined && le !== '+Inf') histogram.bounds.push(Number(le));
    if (le !== undefined) histogram.cumulative.push(Number(text));
  }
  const histograms = [...buckets.values()].map(({ name, labels, bounds, cumulative, sum }) => ({
    name,
    labels,
    bounds,
    counts: cumulative.map((count, index) => count - (cumulative[index - 1] ?? 0)),
    count: cumulative.at(-1) ?? 0,
    sum,
  }));
  return { values, histograms };
}
