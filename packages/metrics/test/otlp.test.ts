// The OTLP/HTTP export of a process serving a real Bus reaches a collector on
// loopback and carries the same values as a Prometheus scrape of that moment.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { valueOf } from './support/exposition.js';
import { numberOf, OtlpReceiver, pointOf } from './support/otlp-receiver.js';
import { ServerProcess } from './support/server-process.js';

describe('the OTLP/HTTP export', () => {
  const receiver = new OtlpReceiver();
  let server: ServerProcess;

  beforeAll(async () => {
    server = await ServerProcess.start('--otlp', await receiver.start());
  });

  afterAll(async () => {
    await server.stop();
    await receiver.close();
  });

  it('carries the values a scrape of the same moment shows', async () => {
    await server.command('pages', { count: 3, size: 64 });
    await server.command('apply', { form: 'dense', count: 9, concurrent: 3 });
    await server.command('apply', { form: 'ranges', count: 4 });
    await server.command('checkpoint');
    await server.command('flush');
    await receiver.received(1);
    const scraped = await server.scrape();
    const exported = receiver.latest();
    expect(receiver.contentTypes[0]).toMatch(/^application\/json/);
    for (const form of ['dense', 'sparse', 'ranges']) {
      const point = pointOf(exported.get('mmsb.deltas.applied'), { form });
      expect(numberOf(point.asDouble ?? point.asInt), form).toBe(valueOf(scraped, 'mmsb_deltas_applied_total', { form }));
    }
    expect(exported.get('mmsb.deltas.applied')?.sum?.isMonotonic).toBe(true);
    expect(numberOf(pointOf(exported.get('mmsb.deltas.applied'), { form: 'dense' }).asDouble)).toBe(9);
    const fsync = pointOf(exported.get('mmsb.log.fsync'));
    expect(exported.get('mmsb.log.fsync')?.unit).toBe('s');
    expect(numberOf(fsync.count)).toBe(valueOf(scraped, 'mmsb_log_fsync_seconds_count'));
    expect(numberOf(fsync.sum)).toBe(valueOf(scraped, 'mmsb_log_fsync_seconds_sum'));
    expect(fsync.bucketCounts?.map(numberOf).reduce((total, count) => total + count, 0)).toBe(numberOf(fsync.count));
    const resident = pointOf(exported.get('mmsb.pages.resident'), { memory: 'heap' });
    expect(numberOf(resident.asDouble)).toBe(valueOf(scraped, 'mmsb_pages_resident_bytes', { memory: 'heap' }));
    expect(numberOf(pointOf(exported.get('mmsb.checkpoint')).count)).toBe(1);
  });
});
