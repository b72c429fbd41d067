/**
 * The metric families of GPU residency (`@mmsb/gpu`'s `ResidencyManager`),
 * declared here like the bridge's, and `residencyReadings`, which turns the
 * manager's `stats()` into their samples:
 *
 * ```ts
 * metrics.addSource({ families: residencyFamilies, collect: () => residencyReadings(manager.stats()) });
 * ```
 *
 * The stats' shape is restated (`ResidencyCounts`) rather than imported:
 * the GPU package may depend on this one, never the reverse.
 */
import type { MetricFamily, Readings, ValueSample } from './source.js';

/** What a residency manager counts (`@mmsb/gpu`'s `ResidencyStats`; extra fields are ignored). */
export interface ResidencyCounts {
  /** Device bytes held by managed pages, per device ordinal. */
  readonly residentBytes: Readonly<Record<number, number>>;
  readonly evictions: number;
  readonly prefetches: number;
  readonly bytesToDevice: number;
  readonly bytesToHost: number;
  readonly bytesBetweenDevices: number;
  /** In ms. */
  readonly transferMs: number;
}

export const residencyFamilies: readonly MetricFamily[] = [
  {
    name: 'mmsb.gpu.resident',
    kind: 'gauge',
    unit: 'By',
    labelNames: ['device'],
    help: 'Device bytes held by the pages a residency manager keeps, per device ordinal.',
  },
  { name: 'mmsb.gpu.evictions', kind: 'counter', unit: '{page}', help: 'Pages evicted from a device (asked for, or to keep a budget).' },
  { name: 'mmsb.gpu.prefetches', kind: 'counter', unit: '{page}', help: 'Pages prefetched to a device.' },
  {
    name: 'mmsb.gpu.transferred',
    kind: 'counter',
    unit: 'By',
    labelNames: ['direction'],
    help: 'Bytes copied by residency changes: to_device, to_host, between_devices.',
  },
  { name: 'mmsb.gpu.transfer.time', kind: 'counter', unit: 's', help: 'Time spent in those copies.' },
];

/** The samples of `residencyFamilies` from a residency manager's stats. */
export function residencyReadings(counts: ResidencyCounts): Readings {
  const resident: ValueSample[] = Object.entries(counts.residentBytes).map(([device, bytes]) => ({ labels: { device }, value: bytes }));
  return new Map<string, readonly ValueSample[]>([
    ['mmsb.gpu.resident', resident],
    ['mmsb.gpu.evictions', [{ value: counts.evictions }]],
    ['mmsb.gpu.prefetches', [{ value: counts.prefetches }]],
    [
      'mmsb.gpu.transferred',
      [
        { labels: { direction: 'to_device' }, value: counts.bytesToDevice },
        { labels: { direction: 'to_host' }, value: counts.bytesToHost },
        { labels: { direction: 'between_devices' }, value: counts.bytesBetweenDevices },
      ],
    ],
    ['mmsb.gpu.transfer.time', [{ value: counts.transferMs / 1000 }]],
  ]);
}
