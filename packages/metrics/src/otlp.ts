/**
 * OpenTelemetry: the same metric sources exported over OTLP/HTTP. The
 * sources already hold cumulative counters and bucketed histograms (the
 * core keeps them), and the OTel API has no asynchronous histogram, so a
 * `MetricProducer` turns each collection of the sources into OTel metric
 * data directly (cumulative sums, gauges, explicit-bucket histograms) and
 * a `PeriodicExportingMetricReader` of a `MeterProvider` exports it with
 * whatever the application records through the provider's own meters.
 */
import { ValueType } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  PeriodicExportingMetricReader,
  type CollectionResult,
  type MetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';

import type { HistogramSample, MetricFamily, ValueSample } from './source.js';
import type { SourceSet } from './sources.js';

/** Where and how often to export over OTLP/HTTP (JSON encoding). */
export interface OtlpOptions {
  /** The collector's metrics URL, e.g. `http://127.0.0.1:4318/v1/metrics`. */
  readonly url: string;
  /** Export period in ms (default 15000); `close()` exports once more. */
  readonly intervalMs?: number;
  /** Extra HTTP headers (an API key, say). */
  readonly headers?: Readonly<Record<string, string>>;
  /** `service.name` of the resource (default `mmsb`). */
  readonly serviceName?: string;
}

type HrTime = [number, number];

const hrTime = (milliseconds: number): HrTime => [Math.floor(milliseconds / 1000), Math.round((milliseconds % 1000) * 1e6)];

function metricData(family: MetricFamily, samples: readonly (ValueSample | HistogramSample)[], start: HrTime, end: HrTime): MetricData {
  const descriptor = { name: family.name, description: family.help, unit: family.unit, valueType: ValueType.DOUBLE };
  const point = <T>(labels: ValueSample['labels'], value: T) => ({ startTime: start, endTime: end, attributes: { ...labels }, value });
  const temporality = AggregationTemporality.CUMULATIVE;
  switch (family.kind) {
    case 'counter':
    case 'gauge': {
      const dataPoints = (samples as readonly ValueSample[]).map(({ labels, value }) => point(labels, value));
      return family.kind === 'counter'
        ? { descriptor, aggregationTemporality: temporality, dataPointType: DataPointType.SUM, isMonotonic: true, dataPoints }
        : { descriptor, aggregationTemporality: temporality, dataPointType: DataPointType.GAUGE, dataPoints };
    }
    case 'histogram': {
      const dataPoints = (samples as readonly HistogramSample[]).map(({ labels, counts, sum }) =>
        point(labels, {
          buckets: { boundaries: [...family.bounds], counts: [...counts] },
          sum,
          count: counts.reduce((total, count) => total + count, 0),
        }),
      );
      return { descriptor, aggregationTemporality: temporality, dataPointType: DataPointType.HISTOGRAM, dataPoints };
    }
  }
}

/** A `MetricProducer` of the sources: add it to any OTel `MetricReader` (`metricProducers`). */
export function sourceProducer(sources: SourceSet): MetricProducer {
  const start = hrTime(performance.timeOrigin + performance.now());
  return {
    async collect(): Promise<CollectionResult> {
      const end = hrTime(performance.timeOrigin + performance.now());
      const readings = sources.collect();
      const metrics = sources.sources.flatMap((source) =>
        source.families.map((family) => metricData(family, readings.get(family.name) ?? [], start, end)),
      );
      return {
        resourceMetrics: { resource: resourceFromAttributes({}), scopeMetrics: [{ scope: { name: '@mmsb/metrics' }, metrics }] },
        errors: [],
      };
    },
  };
}

/** A MeterProvider whose reader exports the sources (and the provider's own meters) over OTLP/HTTP. */
export function otlpMeterProvider(sources: SourceSet, options: OtlpOptions): MeterProvider {
  const exporter = new OTLPMetricExporter({ url: options.url, headers: { ...options.headers } });
  const intervalMs = options.intervalMs ?? 15_000;
  const reader = new PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis: intervalMs,
    exportTimeoutMillis: Math.min(intervalMs, 30_000),
    metricProducers: [sourceProducer(sources)],
  });
  return new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName ?? 'mmsb' }),
    readers: [reader],
  });
}
