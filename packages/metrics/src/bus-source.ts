/**
 * The bus as a `MetricSource`: every family reads `bus.stats()`, the core's
 * counters block read in place (one snapshot per collection, plus one call
 * for the propagation counters), so the bus pays nothing per operation for
 * being watched.
 */
import type { Bus, BusStats, HistogramSnapshot } from '@mmsb/bus';

import type { HistogramSample, MetricFamily, MetricSource, ValueSample } from './source.js';

type Stats = ReturnType<Bus['stats']>;

/** A counter or gauge of the bus, with how its samples are read from one stats snapshot. */
interface BusValue {
  readonly family: MetricFamily;
  readonly read: (stats: Stats) => readonly ValueSample[];
}

const one = (value: number): readonly ValueSample[] => [{ value }];

const forms = ['dense', 'sparse', 'ranges'] as const;
const memories = ['heap', 'arena', 'mapped', 'device', 'managed'] as const;
const capitalised = (word: string): string => word[0]!.toUpperCase() + word.slice(1);
const cell = (stats: Stats, name: string): number => (stats as unknown as Record<string, number>)[name]!;

const values: readonly BusValue[] = [
  {
    family: {
      name: 'mmsb.deltas.applied',
      kind: 'counter',
      unit: '{delta}',
      labelNames: ['form'],
      help: 'Deltas applied, by payload form (waves and batches count each delta).',
    },
    read: (stats) => forms.map((form) => ({ labels: { form }, value: cell(stats, `deltas${capitalised(form)}`) })),
  },
  {
    family: { name: 'mmsb.log.appends', kind: 'counter', unit: '{record}', help: 'Records appended to the log.' },
    read: (stats) => one(stats.logAppends),
  },
  {
    family: {
      name: 'mmsb.log.written',
      kind: 'counter',
      unit: 'By',
      help: 'Bytes appended to the log (record headers and stored bodies).',
    },
    read: (stats) => one(stats.logBytes),
  },
  {
    family: { name: 'mmsb.log.segments', kind: 'gauge', unit: '{segment}', help: 'Log segments on disk.' },
    read: (stats) => one(stats.logSegments),
  },
  {
    family: { name: 'mmsb.lsn', kind: 'gauge', unit: '{record}', help: 'The LSN of the last change.' },
    read: (stats) => one(stats.lsn),
  },
  {
    family: { name: 'mmsb.lsn.durable', kind: 'gauge', unit: '{record}', help: 'The highest LSN known durable.' },
    read: (stats) => one(stats.durableLsn),
  },
  {
    family: { name: 'mmsb.checkpoint.written', kind: 'counter', unit: 'By', help: 'Bytes of every checkpoint written.' },
    read: (stats) => one(stats.checkpointBytes),
  },
  {
    family: { name: 'mmsb.checkpoint.last.size', kind: 'gauge', unit: 'By', help: 'The size of the last checkpoint written.' },
    read: (stats) => one(stats.checkpointLastBytes),
  },
  {
    family: {
      name: 'mmsb.checkpoint.due',
      kind: 'gauge',
      unit: '1',
      help: '1 when the log has grown past checkpointEveryBytes since the last checkpoint.',
    },
    read: (stats) => one(stats.checkpointDue),
  },
  {
    family: { name: 'mmsb.recovery.duration', kind: 'gauge', unit: 's', help: 'How long recovery took when the bus was opened.' },
    read: (stats) => one(stats.recoveryNanos / 1e9),
  },
  {
    family: {
      name: 'mmsb.recovery.records',
      kind: 'gauge',
      unit: '{record}',
      help: 'Log records recovery replayed when the bus was opened.',
    },
    read: (stats) => one(stats.recoveryRecords),
  },
  {
    family: {
      name: 'mmsb.pages',
      kind: 'gauge',
      unit: '{page}',
      labelNames: ['memory'],
      help: 'Live pages, by the memory holding their bytes.',
    },
    read: (stats) => memories.map((memory) => ({ labels: { memory }, value: cell(stats, `pages${capitalised(memory)}`) })),
  },
  {
    family: {
      name: 'mmsb.pages.resident',
      kind: 'gauge',
      unit: 'By',
      labelNames: ['memory'],
      help: 'Bytes of live pages, by the memory holding them.',
    },
    read: (stats) => memories.map((memory) => ({ labels: { memory }, value: cell(stats, `pageBytes${capitalised(memory)}`) })),
  },
  {
    family: { name: 'mmsb.propagation.waves', kind: 'counter', unit: '{wave}', help: 'Propagation waves that finished.' },
    read: (stats) => one(stats.propagation.waves),
  },
  {
    family: { name: 'mmsb.propagation.waves.failed', kind: 'counter', unit: '{wave}', help: 'Waves refused (WAVE_LIMIT) or failed.' },
    read: (stats) => one(stats.propagation.failed),
  },
  {
    family: {
      name: 'mmsb.propagation.recomputes',
      kind: 'counter',
      unit: '{recompute}',
      labelNames: ['outcome'],
      help: 'Recomputes run by finished waves: changed their page, or cut off (output equal to the page).',
    },
    read: (stats) => [
      { labels: { outcome: 'changed' }, value: stats.propagation.changed },
      { labels: { outcome: 'cut_off' }, value: stats.propagation.cutOff },
    ],
  },
  {
    family: { name: 'mmsb.propagation.wave.largest', kind: 'gauge', unit: '{page}', help: 'The most pages one wave visited.' },
    read: (stats) => one(stats.propagation.largestWave),
  },
];

/** The core's histograms, with their OpenTelemetry names and units. */
const histograms: readonly {
  readonly key: keyof BusStats['histograms'];
  readonly name: string;
  readonly unit: string;
  readonly help: string;
}[] = [
  {
    key: 'applySeconds',
    name: 'mmsb.apply',
    unit: 's',
    help: 'Time of an apply call in the core (one delta or one batch); one call in 16 is timed.',
  },
  { key: 'logSyncSeconds', name: 'mmsb.log.fsync', unit: 's', help: 'Time of one sync of the log.' },
  {
    key: 'logSyncRecords',
    name: 'mmsb.log.fsync.records',
    unit: '{record}',
    help: 'Records one log sync made durable: the group commit batch.',
  },
  { key: 'checkpointSeconds', name: 'mmsb.checkpoint', unit: 's', help: 'Time of one checkpoint.' },
  { key: 'waveSeconds', name: 'mmsb.propagation.wave', unit: 's', help: 'Time of one finished propagation wave.' },
];

const histogramSample = (snapshot: HistogramSnapshot): readonly HistogramSample[] => [{ counts: snapshot.counts, sum: snapshot.sum }];

/** A metric source over a bus's counters and histograms. */
export function busSource(bus: Pick<Bus, 'stats'>): MetricSource {
  const layout = bus.stats().histograms;
  const families: MetricFamily[] = [
    ...values.map(({ family }) => family),
    ...histograms.map(({ key, name, unit, help }) => ({ name, unit, help, kind: 'histogram' as const, bounds: layout[key].bounds })),
  ];
  return {
    families,
    collect() {
      const stats = bus.stats();
      const readings = new Map<string, readonly ValueSample[] | readonly HistogramSample[]>();
      for (const { family, read } of values) readings.set(family.name, read(stats));
      for (const { key, name } of histograms) readings.set(name, histogramSample(stats.histograms[key]));
      return readings;
    },
  };
}
