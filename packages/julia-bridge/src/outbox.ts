/**
 * A queue in front of a socket that may block (a DEALER at its high-water
 * mark): zeromq.js allows one blocked send at a time, so sends are made one
 * after another, in order.
 */
export interface Sender {
  send(frames: Uint8Array[]): Promise<void>;
}

export class Outbox {
  readonly #socket: Sender;
  #queue: Uint8Array[][] = [];
  #pumping: Promise<void> | undefined;
  readonly #onError: (error: unknown) => void;

  constructor(socket: Sender, onError: (error: unknown) => void) {
    this.#socket = socket;
    this.#onError = onError;
  }

  send(frames: Uint8Array[]): void {
    this.#queue.push(frames);
    this.#pumping ??= this.#pump();
  }

  async #pump(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      for (const frames of batch) {
        try {
          await this.#socket.send(frames);
        } catch (error) {
          this.#onError(error);
        }
      }
    }
    this.#pumping = undefined;
  }

  /** Resolves when everything queued has been handed to the socket. */
  async drained(): Promise<void> {
    while (this.#pumping !== undefined) await this.#pumping;
  }
}
