// A stand-in OpenTelemetry collector: an HTTP server on loopback that keeps
// every OTLP/HTTP JSON metrics export it receives.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

interface OtlpValue {
  readonly stringValue?: string;
}

interface OtlpPoint {
  readonly attributes?: readonly { readonly key: string; readonly value: OtlpValue }[];
  readonly asDouble?: number | string;
  readonly asInt?: number | string;
  readonly count?: number | string;
  readonly sum?: number | string;
  readonly bucketCounts?: readonly (number | string)[];
  readonly explicitBounds?: readonly number[];
}

export interface OtlpMetric {
  readonly name: string;
  readonly unit?: string;
  readonly sum?: { readonly dataPoints: readonly OtlpPoint[]; readonly isMonotonic?: boolean };
  readonly gauge?: { readonly dataPoints: readonly OtlpPoint[] };
  readonly histogram?: { readonly dataPoints: readonly OtlpPoint[] };
}

interface OtlpExport {
  readonly resourceMetrics: readonly {
    readonly resource?: { readonly attributes?: OtlpPoint['attributes'] };
    readonly scopeMetrics: readonly { readonly metrics: readonly OtlpMetric[] }[];
  }[];
}

export class OtlpReceiver {
  readonly exports: OtlpExport[] = [];
  readonly contentTypes: string[] = [];
  #waiters: (() => void)[] = [];
  readonly #server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      this.contentTypes.push(request.headers['content-type'] ?? '');
      this.exports.push(JSON.parse(body) as OtlpExport);
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      this.#waiters.splice(0).forEach((wake) => wake());
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/v1/metrics`;
  }

  /** Waits until `count` exports have arrived. */
  async received(count: number): Promise<void> {
    while (this.exports.length < count) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  /** The metrics of the newest export, by name. */
  latest(): Map<string, OtlpMetric> {
    const metrics = this.exports.at(-1)!.resourceMetrics.flatMap((resource) => resource.scopeMetrics.flatMap((scope) => scope.metrics));
    return new Map(metrics.map((metric) => [metric.name, metric]));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

/** The value of the data point whose attributes include `labels`. */
export function pointOf(metric: OtlpMetric | undefined, labels: Readonly<Record<string, string>> = {}): OtlpPoint {
  const points = metric?.sum?.dataPoints ?? metric?.gauge?.dataPoints ?? metric?.histogram?.dataPoints ?? [];
  const matches = points.filter((point) =>
    Object.entries(labels).every(([key, value]) =>
      point.attributes?.some((attribute) => attribute.key === key && attribute.value.stringValue === value),
    ),
  );
  if (matches.length !== 1) throw new Error(`${metric?.name}${JSON.stringify(labels)}: ${matches.length} points`);
  return matches[0]!;
}

export const numberOf = (value: number | string | undefined): number => Number(value);
