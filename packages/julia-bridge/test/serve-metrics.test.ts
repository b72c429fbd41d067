// `mmsb serve --metrics --otlp`: a running server's /metrics endpoint,
// scraped and parsed strictly, moves with the operations its clients send;
// its OTLP/HTTP export reaches a receiver on loopback with the same values;
// and a real Prometheus server scraping it answers every expression of the
// Grafana dashboard. (The exposition parser, the OTLP receiver and the
// Prometheus harness are @mmsb/metrics's test support.)
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { dense, MmsbError, ranges, sparseFromBytes } from '@mmsb/bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseExposition, valueOf } from '../../metrics/test/support/exposition.js';
import { numberOf, OtlpReceiver, pointOf } from '../../metrics/test/support/otlp-receiver.js';
import { PrometheusServer } from '../../metrics/test/support/prometheus-server.js';
import { connect, type BridgeClient } from '../src/client.js';
import { encode } from '../src/msgpack.js';
import { serveProcess, type ServeProcess } from './process.js';
import { RawPeer } from './support.js';

const dashboard = JSON.parse(readFileSync(new URL('../../metrics/dashboards/mmsb.json', import.meta.url), 'utf8')) as {
  panels: { title: string; targets?: { expr: string }[] }[];
};
const expressions = dashboard.panels.flatMap((panel) =>
  (panel.targets ?? []).map((target) => ({
    panel: panel.title,
    expr: target.expr.replaceAll('$__rate_interval', '30s').replaceAll('$instance', '.*'),
  })),
);

async function scrape(url: string) {
  const response = await fetch(url);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(await response.text());
}

describe('mmsb serve --metrics', () => {
  const receiver = new OtlpReceiver();
  let directory: string;
  let server: ServeProcess;
  let url: string;
  let client: BridgeClient;

  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'mmsb-serve-metrics-'));
    const otlp = await receiver.start();
    writeFileSync(join(directory, 'key'), 'metrics test key\n', { mode: 0o600 });
    server = await serveProcess([
      '--key-file',
      join(directory, 'key'),
      '--data',
      join(directory, 'data'),
      '--endpoint',
      `ipc://${directory}/s.sock`,
      '--pub',
      'none',
      '--metrics',
      '127.0.0.1:0',
      '--otlp',
      otlp,
      '--otlp-interval',
      '600000',
    ]);
    url = /metrics\s+(http:\/\/\S+?)(,|\s)/.exec(server.output())![1]!;
    client = await connect(server.endpoint, { key: Buffer.from('metrics test key') });
  });

  afterAll(async () => {
    if (server.child.exitCode === null) server.child.kill('SIGKILL');
    await receiver.close();
    rmSync(directory, { recursive: true, force: true });
  });

  it('counts what the clients do: deltas by form, log syncs, bridge requests', async () => {
    const pages = await Promise.all([1, 2, 3, 4].map(() => client.createPage({ size: 64 })));
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 12; i++) writes.push(client.write(pages[i % 4]!.handle, dense(new Uint8Array(64).fill(i))));
    for (let i = 0; i < 5; i++) writes.push(client.write(pages[i % 4]!.handle, sparseFromBytes(64, [[i, 7]])));
    for (let i = 0; i < 3; i++) writes.push(client.write(pages[i]!.handle, ranges([{ offset: i, bytes: Uint8Array.of(1) }])));
    await Promise.all(writes);
    await client.checkpoint();
    const families = await scrape(url);
    expect(valueOf(families, 'mmsb_deltas_applied_total', { form: 'dense' })).toBe(12);
    expect(valueOf(families, 'mmsb_deltas_applied_total', { form: 'sparse' })).toBe(5);
    expect(valueOf(families, 'mmsb_deltas_applied_total', { form: 'ranges' })).toBe(3);
    const stats = (await client.stats()).bus as Record<string, number>;
    expect(valueOf(families, 'mmsb_log_fsync_seconds_count')).toBe(stats.logSyncs);
    expect(stats.logSyncs).toBeGreaterThan(0);
    expect(valueOf(families, 'mmsb_bridge_sessions')).toBe(1);
    expect(valueOf(families, 'mmsb_bridge_handles')).toBe(4);
  });

  it('a real Prometheus scraping it answers every dashboard expression', async () => {
    const prometheus = await PrometheusServer.start(url);
    const stranger = new RawPeer(server.endpoint);
    try {
      const page = await client.createPage({ size: 64 });
      let empty = expressions;
      const deadline = Date.now() + 45_000;
      while (empty.length > 0 && Date.now() < deadline) {
        // Operations keep coming while Prometheus scrapes, so rates are not all zero.
        await Promise.all([1, 2, 3, 4].map((i) => client.write(page.handle, sparseFromBytes(64, [[i, i]]))));
        // And errors, and unsigned frames that the server drops, for the bridge's panels.
        await client.write(page.handle, dense(new Uint8Array(3))).catch((error: unknown) => expect(error).toBeInstanceOf(MmsbError));
        await stranger.send(encode({ v: 1, rid: 1, op: 'ping' }));
        const results = await Promise.all(expressions.map(async (entry) => ({ entry, result: await prometheus.query(entry.expr) })));
        empty = results.filter(({ result }) => (result?.data.result.length ?? 0) === 0).map(({ entry }) => entry);
        if (empty.length > 0) await new Promise((resolve) => setTimeout(resolve, 500));
      }
      expect(empty.map(({ panel, expr }) => `${panel}: ${expr}`)).toEqual([]);
      const up = await prometheus.query('up{job="mmsb"}');
      expect(up?.data.result[0]?.value[1]).toBe('1');
    } finally {
      stranger.close();
      await prometheus.stop();
    }
  }, 90_000);

  it('on Ctrl-C exports over OTLP once more, with the values of its last scrape', async () => {
    const last = await scrape(url);
    await client.close();
    server.child.kill('SIGINT');
    expect(await server.exited()).toBe(0);
    await receiver.received(1);
    const exported = receiver.latest();
    for (const form of ['dense', 'sparse', 'ranges']) {
      const point = pointOf(exported.get('mmsb.deltas.applied'), { form });
      expect(numberOf(point.asDouble ?? point.asInt), form).toBe(valueOf(last, 'mmsb_deltas_applied_total', { form }));
    }
    expect(numberOf(pointOf(exported.get('mmsb.log.fsync')).count)).toBeGreaterThanOrEqual(valueOf(last, 'mmsb_log_fsync_seconds_count'));
  }, 30_000);
});
