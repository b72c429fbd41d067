/**
 * The one seam every producer of MMSB metrics plugs into: the bus
 * (bus-source.ts), the ZeroMQ bridge, the GPU package, an embedding's own
 * figures. A `MetricSource` declares its metric families once and reads
 * their current values when asked: on each Prometheus scrape and each
 * OpenTelemetry export, never per operation. A source keeps its own cheap
 * counters (plain numbers, or cells in shared memory, as the core does) and
 * only copies them out in `collect()`.
 *
 * Names follow OpenTelemetry: dotted, lower case, no unit in the name
 * (`mmsb.log.fsync`, unit `s`). The Prometheus name is derived from it as
 * OpenTelemetry's Prometheus compatibility rules say: dots become
 * underscores, the unit's word is appended (`s` → `_seconds`, `By` →
 * `_bytes`; annotations such as `{record}` and `1` add nothing), and
 * counters end in `_total`. So `{ name: 'mmsb.log.fsync', unit: 's',
 * kind: 'histogram' }` is `mmsb_log_fsync_seconds` (`_bucket`, `_sum`,
 * `_count`), and `{ name: 'mmsb.bridge.requests', unit: '{request}', kind:
 * 'counter' }` is `mmsb_bridge_requests_total`. Values are in base units:
 * seconds, bytes.
 */

/** Label values of one sample, by label name (every name of the family's `labelNames`). */
export type Labels = Readonly<Record<string, string>>;

interface FamilyBase {
  /** The OpenTelemetry name: dotted, lower case, starting with `mmsb.`. */
  readonly name: string;
  /** One sentence: what is counted. Becomes `# HELP` and the OTel description. */
  readonly help: string;
  /** UCUM unit as OpenTelemetry writes it: `s`, `By`, `1`, or an annotation such as `{request}`. */
  readonly unit: string;
  /** The labels (OTel attributes) every sample of the family carries. */
  readonly labelNames?: readonly string[];
}

/**
 * `counter`: only ever grows while the process lives (Prometheus `counter`,
 * an OTel monotonic cumulative sum). `gauge`: a level that goes up and down.
 */
export interface ValueFamily extends FamilyBase {
  readonly kind: 'counter' | 'gauge';
}

/** Observations in fixed buckets, kept by the source (the core's histograms are). */
export interface HistogramFamily extends FamilyBase {
  readonly kind: 'histogram';
  /** The buckets' finite upper bounds, ascending; a last bucket, +Inf, follows. */
  readonly bounds: readonly number[];
}

export type MetricFamily = ValueFamily | HistogramFamily;

/** One labelled value of a counter or gauge. */
export interface ValueSample {
  readonly labels?: Labels;
  readonly value: number;
}

/** One labelled histogram: per-bucket counts (not cumulative, +Inf last) and the sum of observations. */
export interface HistogramSample {
  readonly labels?: Labels;
  readonly counts: readonly number[];
  readonly sum: number;
}

/** What `collect()` returns: the samples of each declared family, by family name. */
export type Readings = ReadonlyMap<string, readonly ValueSample[] | readonly HistogramSample[]>;

/**
 * A producer of metrics. `families` is read once, when the source is added,
 * and must not change; `collect()` is called once per scrape or export and
 * must be synchronous and cheap (copy counters out; do no I/O). A family
 * missing from the readings has no samples this time (Prometheus shows its
 * HELP and TYPE only). A source that throws fails that scrape with HTTP 500.
 *
 * @example A bridge's source (the families are `bridgeFamilies`):
 * ```ts
 * const source: MetricSource = {
 *   families: bridgeFamilies,
 *   collect: () => new Map([
 *     ['mmsb.bridge.sessions', [{ value: sessions.size }]],
 *     ['mmsb.bridge.requests', [...requestsByOp].map(([op, value]) => ({ labels: { op }, value }))],
 *   ]),
 * };
 * server.addSource(source);
 * ```
 */
export interface MetricSource {
  readonly families: readonly MetricFamily[];
  collect(): Readings;
}

/** The word Prometheus appends for an OpenTelemetry unit ('' for annotations and `1`). */
function unitWord(unit: string): string {
  const words: Readonly<Record<string, string>> = { s: 'seconds', ms: 'milliseconds', By: 'bytes', '%': 'percent' };
  return words[unit] ?? '';
}

/** The Prometheus name of a family (see the module comment). */
export function prometheusName(family: MetricFamily): string {
  let name = family.name.replaceAll('.', '_');
  const word = unitWord(family.unit);
  if (word !== '' && !name.endsWith(`_${word}`)) name += `_${word}`;
  if (family.kind === 'counter') name += '_total';
  return name;
}

const otelName = /^mmsb(\.[a-z][a-z0-9_]*)+$/;
const labelName = /^[a-z_][a-z0-9_]*$/;

/** Refuses a family whose name, labels or bounds would make invalid or clashing metrics. */
export function checkFamily(family: MetricFamily): void {
  if (!otelName.test(family.name)) {
    throw new TypeError(`metric name ${JSON.stringify(family.name)} must be dotted lower case starting with "mmsb."`);
  }
  for (const label of family.labelNames ?? []) {
    if (!labelName.test(label) || label === 'le') throw new TypeError(`${family.name}: label name ${JSON.stringify(label)} is not allowed`);
  }
  if (family.kind === 'histogram') {
    const ascending = family.bounds.every((bound, index) => index === 0 || bound > family.bounds[index - 1]!);
    if (family.bounds.length === 0 || !ascending) throw new TypeError(`${family.name}: bounds must be ascending and not empty`);
  }
}
