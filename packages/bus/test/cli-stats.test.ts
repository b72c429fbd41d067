// `mmsb stats <dir>`: a directory's figures as tables, and the percentiles
// it estimates from the core's histograms.
import { describe, expect, it } from 'vitest';

import { main } from '../src/cli/main.js';
import { parseScrape } from '../src/cli/exposition.js';
import { formatSeconds, quantile } from '../src/cli/stats.js';
import { Bus, dense } from '../src/index.js';
import { bytes, scratchDirectory } from './support.js';

async function run(...argv: string[]): Promise<{ code: number; text: string }> {
  const lines: string[] = [];
  const code = await main(argv, (line) => lines.push(line));
  return { code, text: lines.join('\n') };
}

describe('mmsb stats', () => {
  it('shows pages by memory, the log, checkpoints and what recovery replayed', async () => {
    const directory = scratchDirectory('cli-stats');
    const bus = await Bus.open(directory);
    const page = await bus.createPage({ size: 4096 });
    await bus.createPage({ size: 1024, memory: 'mapped' });
    for (let value = 0; value < 5; value++) await bus.apply({ pageId: page, payload: dense(bytes(4096, value)) });
    await bus.close();
    const { code, text } = await run('stats', directory);
    expect(code).toBe(0);
    expect(text).toMatch(/pages\s+live\s+2\s+5\.0 KiB/);
    expect(text).toMatch(/pages\s+mapped\s+1\s+1\.0 KiB/);
    expect(text).toMatch(/recovery\s+replayed\s+7\s/);
    expect(text).toMatch(/log\s+LSN \(durable\)\s+7 \(7\)/);
    expect(text).toMatch(/histogram\s+count\s+mean\s+p50\s+p99/);
    expect(text).toMatch(/apply\s+0\s+-\s+-\s+-/);
  });

  it('needs a directory', async () => {
    expect((await run('stats')).code, 'INVALID_ARGUMENT, as every command that needs one').toBe(1);
  });
});

describe('quantile', () => {
  const histogram = { bounds: [1, 2, 4], counts: [2, 0, 2, 1], count: 5, sum: 12 };

  it('interpolates inside the bucket, as histogram_quantile does', () => {
    expect(quantile(histogram, 0.2)).toBe(0.5);
    expect(quantile(histogram, 0.6)).toBe(3);
    expect(quantile(histogram, 0.99), 'in +Inf: the highest finite bound').toBe(4);
    expect(quantile({ ...histogram, counts: [0, 0, 0, 0], count: 0 }, 0.5)).toBeNaN();
  });

  it('formats seconds with a fitting unit', () => {
    expect([formatSeconds(2.5), formatSeconds(0.0042), formatSeconds(0.0000125), formatSeconds(NaN)]).toEqual([
      '2.50 s',
      '4.20 ms',
      '12.5 µs',
      '-',
    ]);
  });
});

describe('parseScrape', () => {
  it('reads values, and histograms back into per-bucket counts', () => {
    const text = [
      '# TYPE mmsb_deltas_applied_total counter',
      'mmsb_deltas_applied_total{form="dense"} 12',
      '# TYPE mmsb_log_fsync_seconds histogram',
      'mmsb_log_fsync_seconds_bucket{le="0.001"} 3',
      'mmsb_log_fsync_seconds_bucket{le="0.01"} 5',
      'mmsb_log_fsync_seconds_bucket{le="+Inf"} 6',
      'mmsb_log_fsync_seconds_sum 0.03',
      'mmsb_log_fsync_seconds_count 6',
      '',
    ].join('\n');
    const { values, histograms } = parseScrape(text);
    expect(values).toEqual([{ name: 'mmsb_deltas_applied_total', labels: '{form="dense"}', value: 12 }]);
    expect(histograms).toEqual([
      { name: 'mmsb_log_fsync_seconds', labels: '', bounds: [0.001, 0.01], counts: [3, 2, 1], count: 6, sum: 0.03 },
    ]);
  });
});
