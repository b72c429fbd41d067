/**
 * The metric families of the ZeroMQ bridge (`mmsb serve`, @mmsb/julia-bridge),
 * declared here so that the bridge, the Grafana dashboard and its test agree
 * on one set of names, and `bridgeReadings`, which turns the bridge's counter
 * snapshot (`BridgeCounters.snapshot(sessions)`) into their samples. Plugging
 * the bridge in is one call where `mmsb serve` has both its bus and its
 * server:
 *
 * ```ts
 * metrics.addSource({ families: bridgeFamilies, collect: () => bridgeReadings(counters.snapshot(sessions)) });
 * ```
 *
 * The snapshot's shape is restated here (`BridgeCounts`) rather than
 * imported: the bridge may depend on this package, never the reverse.
 */
import type { MetricFamily, Readings, ValueSample } from './source.js';

/** What the bridge counts (julia-bridge `BridgeSnapshot`; extra fields are ignored). */
export interface BridgeCounts {
  readonly sessions: number;
  readonly handles: number;
  readonly handlesFreed: number;
  readonly sessionsExpired: number;
  readonly droppedFrames: number;
  readonly shmBytesRead: number;
  readonly shmBytesWritten: number;
  readonly requestsByOperation: Readonly<Record<string, number>>;
  readonly errorsByCode: Readonly<Record<string, number>>;
  readonly droppedByReason: Readonly<Record<string, number>>;
}

export const bridgeFamilies: readonly MetricFamily[] = [
  { name: 'mmsb.bridge.sessions', kind: 'gauge', unit: '{session}', help: 'Client sessions open.' },
  { name: 'mmsb.bridge.sessions.expired', kind: 'counter', unit: '{session}', help: 'Sessions expired for missed heartbeats.' },
  { name: 'mmsb.bridge.handles', kind: 'gauge', unit: '{handle}', help: 'Handles held by all sessions.' },
  { name: 'mmsb.bridge.handles.freed', kind: 'counter', unit: '{handle}', help: 'Handles released by their sessions or by expiry.' },
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
  {
    name: 'mmsb.bridge.frames.dropped',
    kind: 'counter',
    unit: '{frame}',
    labelNames: ['reason'],
    help: 'Frames that got no response, by reason (unauthenticated, framing, unroutable).',
  },
  {
    name: 'mmsb.bridge.shm.transferred',
    kind: 'counter',
    unit: 'By',
    labelNames: ['direction'],
    help: 'Bytes moved through shared memory: read (pages clients read) and written (payloads clients wrote).',
  },
];

const byLabel = (label: string, counts: Readonly<Record<string, number>>): ValueSample[] =>
  Object.entries(counts).map(([value, count]) => ({ labels: { [label]: value }, value: count }));

/** The samples of `bridgeFamilies` from the bridge's counter snapshot. */
export function bridgeReadings(counts: BridgeCounts): Readings {
  return new Map<string, readonly ValueSample[]>([
    ['mmsb.bridge.sessions', [{ value: counts.sessions }]],
    ['mmsb.bridge.sessions.expired', [{ value: counts.sessionsExpired }]],
    ['mmsb.bridge.handles', [{ value: counts.handles }]],
    ['mmsb.bridge.handles.freed', [{ value: counts.handlesFreed }]],
    ['mmsb.bridge.requests', byLabel('op', counts.requestsByOperation)],
    ['mmsb.bridge.errors', byLabel('code', counts.errorsByCode)],
    ['mmsb.bridge.frames.dropped', byLabel('reason', counts.droppedByReason)],
    [
      'mmsb.bridge.shm.transferred',
      [
        { labels: { direction: 'read' }, value: counts.shmBytesRead },
        { labels: { direction: 'written' }, value: counts.shmBytesWritten },
      ],
    ],
  ]);
}
