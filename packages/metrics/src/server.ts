/**
 * `serveMetrics`: the HTTP endpoint Prometheus scrapes (`GET /metrics`, on
 * loopback unless told otherwise), over the bus and any other sources, and
 * optionally an OTLP/HTTP export of the same figures.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { Bus } from '@mmsb/bus';
import type { MeterProvider } from '@opentelemetry/sdk-metrics';
import { Registry } from 'prom-client';

import { busSource } from './bus-source.js';
import { otlpMeterProvider, type OtlpOptions } from './otlp.js';
import { registerFamilies } from './prometheus.js';
import type { MetricSource } from './source.js';
import { SourceSet } from './sources.js';

export interface ServeMetricsOptions {
  /** `host:port` to listen on (default `127.0.0.1:9464`; port 0 picks a free one). Bind off loopback only on purpose. */
  readonly listen?: string;
  /** More sources served beside the bus's (the bridge's, the GPU package's); more can be added later with `addSource`. */
  readonly extra?: readonly MetricSource[];
  /** Also export every source over OTLP/HTTP. */
  readonly otlp?: OtlpOptions;
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** The scrape URL, `http://host:port/metrics`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** The prom-client registry served (for embedding it in another server). */
  readonly registry: Registry;
  /** The OTLP MeterProvider, when `otlp` was given: the application may record its own instruments on it. */
  readonly meterProvider: MeterProvider | undefined;
  /** Serves one more source from the next scrape and export on; refuses names already served. */
  addSource(source: MetricSource): void;
  /** Stops listening and, with OTLP, exports once more and shuts the provider down. Idempotent. */
  close(): Promise<void>;
}

export const DEFAULT_LISTEN = '127.0.0.1:9464';

/** Splits `host:port` (`[::1]:9464` for IPv6). */
export function parseListen(listen: string): { readonly host: string; readonly port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(listen);
  const port = Number(match?.[3]);
  if (match === null || port > 65535) throw new TypeError(`listen must be host:port, got ${JSON.stringify(listen)}`);
  return { host: (match[1] ?? match[2])!, port };
}

/** Serves `bus`'s metrics (and `extra` sources') at `/metrics`; resolves once listening. */
export async function serveMetrics(bus: Pick<Bus, 'stats'>, options: ServeMetricsOptions = {}): Promise<MetricsServer> {
  const { host, port } = parseListen(options.listen ?? DEFAULT_LISTEN);
  const sources = new SourceSet();
  const registry = new Registry();
  const addSource = (source: MetricSource): void => {
    sources.add(source);
    registerFamilies(registry, source.families, sources);
  };
  [busSource(bus), ...(options.extra ?? [])].forEach(addSource);
  const meterProvider = options.otlp === undefined ? undefined : otlpMeterProvider(sources, options.otlp);
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(error)}\n`),
    );
  });
  try {
    await listen(server, host, port);
  } catch (error) {
    await meterProvider?.shutdown();
    throw error;
  }
  const bound = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}/metrics`,
    host,
    port: bound,
    registry,
    meterProvider,
    addSource,
    close() {
      closed ??= Promise.all([
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
        meterProvider?.shutdown(),
      ]).then(() => undefined);
      return closed;
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
