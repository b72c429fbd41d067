/**
 * Message authentication as the Jupyter protocol does it: with a key, each
 * message is `[HMAC-SHA256(key, body), body]`; without one, `[body]`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export class Signer {
  readonly #key: Uint8Array | undefined;

  constructor(key: Uint8Array | undefined) {
    this.#key = key === undefined || key.length === 0 ? undefined : key;
  }

  get enabled(): boolean {
    return this.#key !== undefined;
  }

  /** The frames that carry `body`. */
  frames(body: Uint8Array): Uint8Array[] {
    if (this.#key === undefined) return [body];
    return [createHmac('sha256', this.#key).update(body).digest(), body];
  }

  /** The body of a message, or `undefined` when it is not signed with our key (or has the wrong shape). */
  open(frames: readonly Uint8Array[]): Uint8Array | undefined {
    if (this.#key === undefined) return frames.length === 1 ? frames[0] : undefined;
    if (frames.length !== 2) return undefined;
    const [signature, body] = frames as [Uint8Array, Uint8Array];
    const expected = createHmac('sha256', this.#key).update(body).digest();
    return signature.length === expected.length && timingSafeEqual(signature, expected) ? body : undefined;
  }
}
