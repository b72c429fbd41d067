/**
 * @mmsb/metrics: Prometheus and OpenTelemetry metrics of an MMSB bus and of
 * anything else that implements `MetricSource` (the bridge, the GPU package).
 */
export { bridgeFamilies, bridgeReadings, type BridgeCounts } from './bridge-families.js';
export { busSource } from './bus-source.js';
export { residencyFamilies, residencyReadings, type ResidencyCounts } from './residency-families.js';
export { otlpMeterProvider, sourceProducer, type OtlpOptions } from './otlp.js';
export { registerFamilies } from './prometheus.js';
export { DEFAULT_LISTEN, parseListen, serveMetrics, type MetricsServer, type ServeMetricsOptions } from './server.js';
export {
  prometheusName,
  type HistogramFamily,
  type HistogramSample,
  type Labels,
  type MetricFamily,
  type MetricSource,
  type Readings,
  type ValueFamily,
  type ValueSample,
} from './source.js';
export { SourceSet, type Samples } from './sources.js';
