// serveMetrics in this process: sources added later, a failing source, a
// port taken, closing twice.
import { Bus } from '@mmsb/bus';
import { describe, expect, it } from 'vitest';

import { DEFAULT_LISTEN, residencyFamilies, residencyReadings, serveMetrics, type MetricSource } from '../src/index.js';
import { parseExposition, valueOf } from './support/exposition.js';

const gauge = (name: string, collect: MetricSource['collect']): MetricSource => ({
  families: [{ name, kind: 'gauge', unit: '1', help: 'A test gauge.' }],
  collect,
});

describe('serveMetrics', () => {
  it('listens on loopback by default', () => {
    expect(DEFAULT_LISTEN).toBe('127.0.0.1:9464');
  });

  it("serves a GPU residency manager's figures under their families", async () => {
    const stats = {
      residentBytes: { 0: 4096, 1: 8192 },
      evictions: 3,
      prefetches: 5,
      bytesToDevice: 1000,
      bytesToHost: 200,
      bytesBetweenDevices: 30,
      transferMs: 1500,
    };
    const server = await serveMetrics(Bus.memory(), {
      listen: '127.0.0.1:0',
      extra: [{ families: residencyFamilies, collect: () => residencyReadings(stats) }],
    });
    const families = parseExposition(await (await fetch(server.url)).text());
    expect(valueOf(families, 'mmsb_gpu_resident_bytes', { device: '1' })).toBe(8192);
    expect(valueOf(families, 'mmsb_gpu_evictions_total')).toBe(3);
    expect(valueOf(families, 'mmsb_gpu_prefetches_total')).toBe(5);
    expect(valueOf(families, 'mmsb_gpu_transferred_bytes_total', { direction: 'to_host' })).toBe(200);
    expect(valueOf(families, 'mmsb_gpu_transfer_time_seconds_total')).toBe(1.5);
    await server.close();
  });

  it('serves a source added after it started, and answers 500 when a source fails', async () => {
    const server = await serveMetrics(Bus.memory(), { listen: '127.0.0.1:0' });
    server.addSource(gauge('mmsb.test.later', () => new Map([['mmsb.test.later', [{ value: 42 }]]])));
    const families = parseExposition(await (await fetch(server.url)).text());
    expect(valueOf(families, 'mmsb_test_later')).toBe(42);
    expect(() => server.addSource(gauge('mmsb.test.later', () => new Map()))).toThrow(/registered already/);
    server.addSource(
      gauge('mmsb.test.failing', () => {
        throw new Error('the source failed');
      }),
    );
    const failed = await fetch(server.url);
    expect(failed.status).toBe(500);
    expect(await failed.text()).toContain('the source failed');
    await server.close();
    await server.close();
  });

  it('refuses a port that is taken', async () => {
    const first = await serveMetrics(Bus.memory(), { listen: '127.0.0.1:0' });
    await expect(serveMetrics(Bus.memory(), { listen: `127.0.0.1:${first.port}` })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await first.close();
  });
});
