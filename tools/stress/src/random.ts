/**
 * The stress daemon's one source of choices: a small seeded generator
 * (mulberry32). Each part of the workload draws from its own stream, named
 * and derived from the run's seed, so that a part makes the same choices
 * for the same seed whatever the other parts do (their timing differs from
 * run to run; their choices do not).
 */

/** FNV-1a over a label's UTF-16 units, mixed into the seed (splitmix32's finaliser). */
function mix(seed: number, label: string): number {
  let hash = 0x811c9dc5 ^ (seed >>> 0);
  for (let index = 0; index < label.length; index++) {
    hash = Math.imul(hash ^ label.charCodeAt(index), 0x01000193);
  }
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) >>> 0;
}

export class Random {
  /** The seed this stream started from; streams forked from it derive from this, not from draws. */
  readonly seed: number;
  #state: number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    this.#state = this.seed;
  }

  /** The stream named `labels` of the run seeded with `seed`. */
  static stream(seed: number, ...labels: readonly (string | number)[]): Random {
    return new Random(labels.reduce<number>((value, label) => mix(value, String(label)), seed));
  }

  /** An independent stream below this one, named `label`. */
  fork(label: string | number): Random {
    return new Random(mix(this.seed, String(label)));
  }

  /** 32 random bits as an unsigned integer. */
  bits(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let value = this.#state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return (value ^ (value >>> 14)) >>> 0;
  }

  /** A number in [0, 1). */
  next(): number {
    return this.bits() / 4294967296;
  }

  /** An integer in [0, count). */
  below(count: number): number {
    return Math.floor(this.next() * count);
  }

  /** An integer in [low, high]. */
  between(low: number, high: number): number {
    return low + this.below(high - low + 1);
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }

  /** Picks a key with probability proportional to its weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const entries = Object.entries(weights) as [K, number][];
    let roll = this.next() * entries.reduce((sum, [, weight]) => sum + weight, 0);
    for (const [key, weight] of entries) {
      roll -= weight;
      if (roll < 0) return key;
    }
    return entries[entries.length - 1]![0];
  }

  bytes(length: number): Uint8Array {
    const bytes = new Uint8Array(length);
    for (let index = 0; index < length; index += 4) {
      let word = this.bits();
      for (let lane = index; lane < Math.min(length, index + 4); lane++, word >>>= 8) bytes[lane] = word & 0xff;
    }
    return bytes;
  }
}
