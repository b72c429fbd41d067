// A real Prometheus server scrapes a process serving a bus (and the bridge's
// families, from a stand-in source; julia-bridge's serve-metrics test does the
// same against `mmsb serve --metrics`), and every PromQL expression of the
// Grafana dashboard returns a non-empty series.
import { readFileSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { PrometheusServer, type QueryResult } from './support/prometheus-server.js';
import { ServerProcess } from './support/server-process.js';

interface Panel {
  readonly title: string;
  readonly targets?: readonly { readonly expr: string }[];
}

const dashboard = JSON.parse(readFileSync(new URL('../dashboards/mmsb.json', import.meta.url), 'utf8')) as { panels: Panel[] };

/** The dashboard's expressions with Grafana's variables as Grafana would fill them in. */
const expressions = dashboard.panels.flatMap((panel) =>
  (panel.targets ?? []).map((target) => ({
    panel: panel.title,
    expr: target.expr.replaceAll('$__rate_interval', '30s').replaceAll('$instance', '.*'),
  })),
);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Prometheus scraping a served bus', () => {
  let server: ServerProcess;
  let prometheus: PrometheusServer;

  beforeAll(async () => {
    server = await ServerProcess.start('--bridge-stub');
    await server.command('pages', { count: 4, size: 64 });
    await server.command('apply', { form: 'dense', count: 8, concurrent: 4 });
    await server.command('checkpoint');
    await server.command('wave');
    prometheus = await PrometheusServer.start(server.url);
  });

  afterAll(async () => {
    await prometheus?.stop();
    await server?.stop();
  });

  it('scrapes the target, and every dashboard expression returns a series', async () => {
    expect(expressions.length).toBeGreaterThanOrEqual(20);
    const results = new Map<string, QueryResult | undefined>();
    const deadline = Date.now() + 45_000;
    for (;;) {
      // Operations keep coming while Prometheus scrapes, so rates are not all zero.
      await server.command('apply', { form: 'sparse', count: 4, concurrent: 2 });
      for (const { expr } of expressions) results.set(expr, await prometheus.query(expr));
      const empty = expressions.filter(({ expr }) => (results.get(expr)?.data.result.length ?? 0) === 0);
      if (empty.length === 0 || Date.now() > deadline) break;
      await sleep(500);
    }
    const up = await prometheus.query('up{job="mmsb"}');
    expect(up?.data.result[0]?.value[1]).toBe('1');
    for (const { panel, expr } of expressions) {
      const result = results.get(expr);
      expect(result?.status, `${panel}: ${expr}`).toBe('success');
      expect(result?.data.result.length, `${panel}: ${expr} returned no series`).toBeGreaterThan(0);
    }
    const dense = await prometheus.query('sum(mmsb_deltas_applied_total{form="dense"})');
    expect(Number(dense?.data.result[0]?.value[1]), '8 applies, the wave parent and its derived delta').toBe(10);
  }, 60_000);
});
