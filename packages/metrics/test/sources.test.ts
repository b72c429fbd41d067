// Names, the listen address, and what the source set refuses.
import { describe, expect, it } from 'vitest';

import { bridgeFamilies, parseListen, prometheusName, SourceSet, type MetricFamily } from '../src/index.js';

const family = (fields: Partial<MetricFamily> & Pick<MetricFamily, 'name' | 'unit' | 'kind'>): MetricFamily =>
  ({ help: 'h', ...fields, ...(fields.kind === 'histogram' ? { bounds: [1] } : {}) }) as MetricFamily;

describe('metric names', () => {
  it('follow OpenTelemetry to Prometheus: unit words appended, counters end in _total', () => {
    expect(prometheusName(family({ name: 'mmsb.log.fsync', unit: 's', kind: 'histogram' }))).toBe('mmsb_log_fsync_seconds');
    expect(prometheusName(family({ name: 'mmsb.log.written', unit: 'By', kind: 'counter' }))).toBe('mmsb_log_written_bytes_total');
    expect(prometheusName(family({ name: 'mmsb.bridge.requests', unit: '{request}', kind: 'counter' }))).toBe('mmsb_bridge_requests_total');
    expect(prometheusName(family({ name: 'mmsb.pages', unit: '{page}', kind: 'gauge' }))).toBe('mmsb_pages');
    expect(bridgeFamilies.map(prometheusName)).toEqual([
      'mmsb_bridge_sessions',
      'mmsb_bridge_sessions_expired_total',
      'mmsb_bridge_handles',
      'mmsb_bridge_handles_freed_total',
      'mmsb_bridge_requests_total',
      'mmsb_bridge_errors_total',
      'mmsb_bridge_frames_dropped_total',
      'mmsb_bridge_shm_transferred_bytes_total',
    ]);
  });

  it('are refused when invalid or taken already', () => {
    const sources = new SourceSet();
    const source = (families: MetricFamily[]) => ({ families, collect: () => new Map() });
    sources.add(source([family({ name: 'mmsb.a', unit: '1', kind: 'gauge' })]));
    expect(() => sources.add(source([family({ name: 'mmsb.a', unit: '1', kind: 'gauge' })]))).toThrow(/registered already/);
    expect(() => sources.add(source([family({ name: 'Bad-name', unit: '1', kind: 'gauge' })]))).toThrow(/dotted lower case/);
    expect(() => sources.add(source([family({ name: 'mmsb.b', unit: '1', kind: 'gauge', labelNames: ['le'] })]))).toThrow(/label/);
  });
});

describe('parseListen', () => {
  it('takes host:port and [v6]:port, and refuses anything else', () => {
    expect(parseListen('127.0.0.1:9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    for (const bad of ['9464', 'localhost', ':9464', 'host:70000', '::1:9464']) expect(() => parseListen(bad)).toThrow(TypeError);
  });
});
