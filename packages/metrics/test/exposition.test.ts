// The strict exposition parser the scrape tests rely on refuses what a
// broken exporter would write: the tests above could fail.
import { describe, expect, it } from 'vitest';

import { parseExposition, valueOf } from './support/exposition.js';

const histogram = (buckets: string, count: number) => `# TYPE h_seconds histogram\n${buckets}h_seconds_sum 1.5\nh_seconds_count ${count}\n`;

describe('the exposition parser', () => {
  it('reads counters, labels with escapes and histograms', () => {
    const families = parseExposition(
      '# HELP a_total A.\n# TYPE a_total counter\na_total{x="q\\"\\\\\\n"} 3\n' +
        histogram('h_seconds_bucket{le="0.1"} 1\nh_seconds_bucket{le="+Inf"} 2\n', 2),
    );
    expect(valueOf(families, 'a_total', { x: 'q"\\\n' })).toBe(3);
    expect(valueOf(families, 'h_seconds_count')).toBe(2);
    expect(families.get('a_total')?.help).toBe('A.');
  });

  it.each([
    ['a sample before its TYPE', 'a_total 1\n'],
    ['a counter without _total', '# TYPE a counter\na 1\n'],
    ['a bad value', '# TYPE a gauge\na one\n'],
    ['an unquoted label', '# TYPE a gauge\na{x=1} 1\n'],
    ['a series twice', '# TYPE a gauge\na 1\na 2\n'],
    ['no final newline', '# TYPE a gauge\na 1'],
    ['buckets that are not cumulative', histogram('h_seconds_bucket{le="0.1"} 2\nh_seconds_bucket{le="+Inf"} 1\n', 1)],
    ['no +Inf bucket', histogram('h_seconds_bucket{le="0.1"} 2\n', 2)],
    ['+Inf not equal to _count', histogram('h_seconds_bucket{le="0.1"} 1\nh_seconds_bucket{le="+Inf"} 2\n', 3)],
  ])('refuses %s', (_, text) => {
    expect(() => parseExposition(text)).toThrow();
  });
});
