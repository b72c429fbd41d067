/**
 * A prom-client registry over metric sources: one prom-client metric per
 * family, whose values are read from the sources when the registry is
 * scraped (the source set collects once per scrape). prom-client's metric
 * classes keep their own values, set one observation at a time; ours live
 * in the sources (the core's counters block), so each class is extended
 * with a `get()` that reports the source's values instead, formatted by
 * prom-client's registry as usual (text format 0.0.4).
 */
import { Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';

import { prometheusName, type HistogramFamily, type HistogramSample, type MetricFamily, type ValueSample } from './source.js';
import type { SourceSet } from './sources.js';

interface Reported {
  readonly value: number;
  readonly labels: Record<string, string | number>;
  readonly metricName?: string;
}

const valuesOf = (samples: readonly ValueSample[]): Reported[] =>
  samples.map(({ labels = {}, value }) => ({ labels: { ...labels }, value }));

/** Prometheus buckets are cumulative and end with `+Inf`, followed by `_sum` and `_count`. */
function histogramValues(name: string, family: HistogramFamily, samples: readonly HistogramSample[]): Reported[] {
  const reported: Reported[] = [];
  for (const { labels = {}, counts, sum } of samples) {
    let cumulative = 0;
    counts.forEach((count, index) => {
      cumulative += count;
      const le = index < family.bounds.length ? String(family.bounds[index]) : '+Inf';
      reported.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: cumulative });
    });
    reported.push({ metricName: `${name}_sum`, labels: { ...labels }, value: sum });
    reported.push({ metricName: `${name}_count`, labels: { ...labels }, value: cumulative });
  }
  return reported;
}

/** A prom-client metric of `family` whose values come from `sources`. */
function familyMetric(family: MetricFamily, sources: SourceSet): Metric {
  const config = { name: prometheusName(family), help: family.help, labelNames: family.labelNames ?? [], registers: [] };
  const report = <T>(metric: { name: string; help: string; type: T; aggregator: unknown }, values: Reported[]) => ({
    name: metric.name,
    help: metric.help,
    type: metric.type,
    aggregator: metric.aggregator,
    values,
  });
  switch (family.kind) {
    case 'counter':
      return new (class extends Counter {
        override async get() {
          return report(this as never, valuesOf(sources.scraped(family.name) as readonly ValueSample[])) as never;
        }
      })(config);
    case 'gauge':
      return new (class extends Gauge {
        override async get() {
          return report(this as never, valuesOf(sources.scraped(family.name) as readonly ValueSample[])) as never;
        }
      })(config);
    case 'histogram':
      return new (class extends Histogram {
        override async get() {
          const samples = sources.scraped(family.name) as readonly HistogramSample[];
          return report(this as never, histogramValues(config.name, family, samples)) as never;
        }

        /** What prom-client's registry formats: the same values. */
        async getForPromString() {
          return this.get();
        }
      })({ ...config, buckets: [...family.bounds] });
  }
}

/** Registers every family of `families` in `registry`, read from `sources` on scrape. */
export function registerFamilies(registry: Registry, families: readonly MetricFamily[], sources: SourceSet): void {
  for (const family of families) registry.registerMetric(familyMetric(family, sources));
}
