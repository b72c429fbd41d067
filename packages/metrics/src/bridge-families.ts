/**
 * The metric families of the ZeroMQ bridge (`mmsb serve`), declared here so
 * that the bridge, the Grafana dashboard and its test agree on one set of
 * names. The bridge implements a `MetricSource` with `families:
 * bridgeFamilies` and a `collect()` that copies its counters out (source.ts
 * has an example); `serveMetrics(...).addSource(source)` plugs it in.
 */
import type { MetricFamily } from './source.js';

export const bridgeFamilies: readonly MetricFamily[] = [
  { name: 'mmsb.bridge.sessions', kind: 'gauge', unit: '{session}', help: 'Client sessions open.' },
  { name: 'mmsb.bridge.handles', kind: 'gauge', unit: '{handle}', help: 'Handles held by all sessions.' },
  {
    name: 'mmsb.bridge.requests',
    kind: 'counter',
    unit: '{request}',
    labelNames: ['op'],
    help: 'Requests answered, by protocol operation.',
  },
  {
    name: 'mmsb.bridge.errors',
    kind: 'counter',
    unit: '{response}',
    labelNames: ['code'],
    help: 'Error responses, by MMSB error code.',
  },
  { name: 'mmsb.bridge.shm.mapped', kind: 'gauge', unit: 'By', help: 'Bytes of shared memory mapped for bulk transfers.' },
  {
    name: 'mmsb.bridge.frames.dropped',
    kind: 'counter',
    unit: '{frame}',
    help: 'Notification frames dropped (a slow subscriber past the high-water mark).',
  },
];
