/**
 * The sources of one metrics endpoint, and one collection of them per
 * scrape: prom-client asks each family for its values separately, so the
 * first family asked collects every source and the rest of that scrape
 * read the same readings (consistent with each other, and a scrape costs
 * one `bus.stats()`). The readings are dropped when the scrape's tick ends.
 */
import { checkFamily, prometheusName, type HistogramSample, type MetricSource, type ValueSample } from './source.js';

export type Samples = readonly ValueSample[] | readonly HistogramSample[];

export class SourceSet {
  readonly #sources: MetricSource[] = [];
  readonly #names = new Set<string>();
  #current: ReadonlyMap<string, Samples> | undefined;

  /** Adds a source; refuses invalid families and names already taken (in either naming). */
  add(source: MetricSource): void {
    const names = new Set<string>();
    for (const family of source.families) {
      checkFamily(family);
      for (const name of [family.name, prometheusName(family)]) {
        if (this.#names.has(name) || names.has(name)) throw new TypeError(`metric ${name} is registered already`);
        names.add(name);
      }
    }
    names.forEach((name) => this.#names.add(name));
    this.#sources.push(source);
  }

  get sources(): readonly MetricSource[] {
    return this.#sources;
  }

  /** Every source's readings, collected now. */
  collect(): ReadonlyMap<string, Samples> {
    const all = new Map<string, Samples>();
    for (const source of this.#sources) {
      for (const [name, samples] of source.collect()) all.set(name, samples);
    }
    return all;
  }

  /** The samples of a family in the current scrape (collected by the first family asked). */
  scraped(name: string): Samples {
    if (this.#current === undefined) {
      this.#current = this.collect();
      setImmediate(() => (this.#current = undefined));
    }
    return this.#current.get(name) ?? [];
  }
}
