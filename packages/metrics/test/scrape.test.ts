// The /metrics endpoint of a process serving a real Bus, scraped over HTTP
// and parsed strictly: values move with the operations sent, exactly.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type Family, valueOf } from './support/exposition.js';
import { ServerProcess } from './support/server-process.js';

const run = promisify(execFile);
const mmsb = fileURLToPath(new URL('../../bus/bin/mmsb.js', import.meta.url));

/** The apply calls the core times among the first `calls`: one in 16, the first included (mmsb-core APPLY_TIMING_PERIOD). */
const timedCalls = (calls: number) => Math.ceil(calls / 16);

describe('GET /metrics of a process serving a bus', () => {
  let server: ServerProcess;

  beforeAll(async () => {
    server = await ServerProcess.start();
    await server.command('pages', { count: 4, size: 64 });
  });

  afterAll(() => server.stop());

  const deltas = (families: Map<string, Family>, form: string) => valueOf(families, 'mmsb_deltas_applied_total', { form });

  it('counts every delta sent, by form, and times one apply call in 16', async () => {
    const before = await server.scrape();
    await server.command('apply', { form: 'dense', count: 12, concurrent: 4 });
    await server.command('apply', { form: 'sparse', count: 5 });
    await server.command('apply', { form: 'ranges', count: 3, concurrent: 3 });
    const after = await server.scrape();
    expect(deltas(after, 'dense') - deltas(before, 'dense')).toBe(12);
    expect(deltas(after, 'sparse') - deltas(before, 'sparse')).toBe(5);
    expect(deltas(after, 'ranges') - deltas(before, 'ranges')).toBe(3);
    expect(valueOf(after, 'mmsb_apply_seconds_count') - valueOf(before, 'mmsb_apply_seconds_count'), 'calls 1 and 17 of 20').toBe(
      timedCalls(20),
    );
    expect(valueOf(after, 'mmsb_log_appends_total') - valueOf(before, 'mmsb_log_appends_total')).toBe(20);
    expect(valueOf(after, 'mmsb_apply_seconds_sum')).toBeGreaterThan(valueOf(before, 'mmsb_apply_seconds_sum'));
  });

  it("counts exactly the log's syncs in the fsync histogram, and the records each made durable", async () => {
    await server.command('apply', { form: 'dense', count: 16, concurrent: 8 });
    const families = await server.scrape();
    const { syncs, stats } = await server.state();
    expect(syncs).toBeGreaterThan(0);
    expect(valueOf(families, 'mmsb_log_fsync_seconds_count')).toBe(syncs);
    expect(valueOf(families, 'mmsb_log_fsync_records_count')).toBe(syncs);
    expect(valueOf(families, 'mmsb_log_fsync_records_sum'), 'every record was made durable by one sync').toBe(stats.durableLsn);
    expect(valueOf(families, 'mmsb_lsn_durable')).toBe(stats.lsn);
    expect(valueOf(families, 'mmsb_log_fsync_seconds_sum')).toBeCloseTo(stats.logSyncNanos / 1e9, 9);
  });

  it('reports pages and bytes by memory, checkpoints, log segments and waves', async () => {
    const before = await server.scrape();
    const { bytes } = await server.command<{ bytes: number }>('checkpoint');
    await server.command('wave');
    const after = await server.scrape();
    expect(valueOf(after, 'mmsb_pages', { memory: 'heap' })).toBe(6);
    expect(valueOf(after, 'mmsb_pages_resident_bytes', { memory: 'heap' })).toBe(6 * 64);
    expect(valueOf(after, 'mmsb_checkpoint_seconds_count')).toBe(1);
    expect(valueOf(after, 'mmsb_checkpoint_last_size_bytes')).toBe(bytes);
    expect(valueOf(after, 'mmsb_checkpoint_written_bytes_total') - valueOf(before, 'mmsb_checkpoint_written_bytes_total')).toBe(bytes);
    expect(valueOf(after, 'mmsb_log_segments')).toBe(2);
    expect(valueOf(after, 'mmsb_propagation_waves_total')).toBe(1);
    expect(valueOf(after, 'mmsb_propagation_wave_seconds_count')).toBe(1);
    expect(valueOf(after, 'mmsb_propagation_recomputes_total', { outcome: 'changed' })).toBe(1);
  });

  it('is what `mmsb stats <url>` shows as tables', async () => {
    const scraped = await server.scrape();
    const { stdout } = await run(process.execPath, [mmsb, 'stats', server.url]);
    const dense = valueOf(scraped, 'mmsb_deltas_applied_total', { form: 'dense' });
    expect(stdout).toMatch(new RegExp(`mmsb_deltas_applied_total\\s+\\{form="dense"\\}\\s+${dense}\\n`));
    const syncs = valueOf(scraped, 'mmsb_log_fsync_seconds_count');
    expect(stdout).toMatch(new RegExp(`mmsb_log_fsync_seconds\\s+${syncs}\\s+[0-9.]+ [µm]?s`));
    expect(stdout).toMatch(/mmsb_pages_resident_bytes\s+\{memory="heap"\}\s+384 B/);
  });

  it('answers anything but GET /metrics with 404', async () => {
    expect((await fetch(server.url.replace('/metrics', '/'))).status).toBe(404);
  });
});
