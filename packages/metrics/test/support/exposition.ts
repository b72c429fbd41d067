// A strict parser of the Prometheus text exposition format 0.0.4: what the
// tests read a scrape with. Strict where exporters go wrong: a sample must
// follow its family's # TYPE, names and label names must be valid, label
// values properly escaped, no series twice, counters end in _total, and a
// histogram's buckets are cumulative, end with +Inf, and +Inf equals _count.

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly samples: Sample[];
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const types: ReadonlySet<string> = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

class ExpositionError extends Error {
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
  }
}

function parseValue(text: string, line: number): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new ExpositionError(line, `bad value ${JSON.stringify(text)}`);
  return Number(text);
}

/** Parses `{a="x",b="y"}` starting at `text[0] === '{'`; returns the labels and the rest of the line. */
function parseLabels(text: string, line: number): [Record<string, string>, string] {
  const labels: Record<string, string> = {};
  let at = 1;
  while (text[at] !== '}') {
    const equals = text.indexOf('=', at);
    const name = text.slice(at, equals);
    if (equals < 0 || !labelName.test(name)) throw new ExpositionError(line, `bad label name ${JSON.stringify(name)}`);
    if (name in labels) throw new ExpositionError(line, `label ${name} twice`);
    if (text[equals + 1] !== '"') throw new ExpositionError(line, `label ${name}: value must be quoted`);
    let value = '';
    at = equals + 2;
    for (;;) {
      const char = text[at];
      if (char === undefined) throw new ExpositionError(line, `label ${name}: unterminated value`);
      if (char === '"') break;
      if (char === '\\') {
        const escaped = { '\\': '\\', '"': '"', n: '\n' }[text[at + 1] ?? ''];
        if (escaped === undefined) throw new ExpositionError(line, `label ${name}: bad escape`);
        value += escaped;
        at += 2;
      } else {
        value += char;
        at += 1;
      }
    }
    labels[name] = value;
    at += 1;
    if (text[at] === ',') at += 1;
    else if (text[at] !== '}') throw new ExpositionError(line, `expected , or } after label ${name}`);
  }
  return [labels, text.slice(at + 1)];
}

/** The family a sample name belongs to (histogram and summary samples carry suffixes). */
function familyOf(name: string, families: ReadonlyMap<string, Family>): Family | undefined {
  const direct = families.get(name);
  if (direct !== undefined) return direct;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  const family = families.get(base);
  return family?.type === 'histogram' || family?.type === 'summary' ? family : undefined;
}

function checkHistogram(family: Family): void {
  const series = new Map<string, Sample[]>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    series.set(key, [...(series.get(key) ?? []), sample]);
  }
  for (const [key, samples] of series) {
    const buckets = samples.filter((sample) => sample.name === `${family.name}_bucket`);
    const count = samples.find((sample) => sample.name === `${family.name}_count`);
    if (samples.find((sample) => sample.name === `${family.name}_sum`) === undefined || count === undefined) {
      throw new Error(`${family.name}${key}: histogram without _sum or _count`);
    }
    const bounds = buckets.map((bucket) => parseValue(bucket.labels.le ?? 'missing', 0));
    if (bounds.at(-1) !== Infinity) throw new Error(`${family.name}${key}: the last bucket is not +Inf`);
    buckets.forEach((bucket, index) => {
      if (index > 0 && (bounds[index]! <= bounds[index - 1]! || bucket.value < buckets[index - 1]!.value)) {
        throw new Error(`${family.name}${key}: buckets are not ascending and cumulative`);
      }
    });
    if (buckets.at(-1)!.value !== count.value)
      throw new Error(`${family.name}${key}: +Inf bucket ${buckets.at(-1)!.value} != _count ${count.value}`);
  }
}

/** Parses a whole exposition; throws on the first violation. */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  const helps = new Map<string, string>();
  if (text !== '' && !text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    const comment = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw);
    if (comment !== null) {
      const [, keyword, name, rest] = comment as unknown as [string, string, string, string];
      if (!metricName.test(name)) throw new ExpositionError(line, `bad metric name ${name}`);
      if (keyword === 'HELP') {
        helps.set(name, rest);
        return;
      }
      if (!types.has(rest)) throw new ExpositionError(line, `unknown type ${rest}`);
      if (families.has(name)) throw new ExpositionError(line, `second TYPE for ${name}`);
      if (rest === 'counter' && !name.endsWith('_total')) throw new ExpositionError(line, `counter ${name} does not end in _total`);
      families.set(name, { name, type: rest as MetricType, help: helps.get(name) ?? '', samples: [] });
      return;
    }
    if (raw.startsWith('#')) return;
    const nameEnd = raw.search(/[{ ]/);
    const name = raw.slice(0, nameEnd);
    if (nameEnd < 0 || !metricName.test(name)) throw new ExpositionError(line, `bad sample ${JSON.stringify(raw)}`);
    const [labels, rest] = raw[nameEnd] === '{' ? parseLabels(raw.slice(nameEnd), line) : [{}, raw.slice(nameEnd)];
    const fields = rest.trim().split(' ');
    if (!rest.startsWith(' ') || fields.length > 2) throw new ExpositionError(line, `bad sample ${JSON.stringify(raw)}`);
    const family = familyOf(name, families);
    if (family === undefined) throw new ExpositionError(line, `sample ${name} before its # TYPE`);
    const series = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(series)) throw new ExpositionError(line, `series ${series} twice`);
    seen.add(series);
    family.samples.push({ name, labels, value: parseValue(fields[0]!, line) });
  });
  for (const family of families.values()) {
    if (family.type === 'histogram') checkHistogram(family);
  }
  return families;
}

/** The value of the one sample of `name` whose labels include `labels`. */
export function valueOf(families: ReadonlyMap<string, Family>, name: string, labels: Readonly<Record<string, string>> = {}): number {
  const family = familyOf(name, families);
  const matches = (family?.samples ?? []).filter(
    (sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  if (matches.length !== 1) throw new Error(`${name}${JSON.stringify(labels)}: ${matches.length} samples`);
  return matches[0]!.value;
}
