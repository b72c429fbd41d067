/**
 * The server's request socket, a ZeroMQ ROUTER, in one of two forms. The
 * native one (the default where libzmq can be loaded) is the addon's
 * ROUTER, polled in this event loop: every message waiting is handed over
 * in one call, and the replies made before the next microtask checkpoint
 * are sent in one call. The zeromq.js one, for machines without libzmq,
 * takes one message per receive and one promise per send.
 * docs/ARCHITECTURE.md, "Bridge transport", says why both exist.
 */
import { ErrorCode, MmsbError } from '@mmsb/bus';
import { native } from '@mmsb/core-native';
import { Router } from 'zeromq';

import { Outbox } from './outbox.js';

/** Serves one batch of messages (each its frames, the routing id first); the next batch waits for its promise. */
export type BatchHandler = (messages: Buffer[][]) => Promise<void> | undefined;

export type Transport = 'native' | 'zeromq';

export interface RequestSocketOptions {
  /** Larger messages are refused by ZeroMQ, which drops the connection. */
  readonly maxMessageBytes: number;
  /** Replies queued for one peer beyond this are dropped. */
  readonly sendHighWaterMark: number;
  /** How long closing lets queued replies leave, in milliseconds. */
  readonly lingerMs: number;
}

export interface RequestSocket {
  /** The endpoint as bound (a `*` port resolved). */
  readonly endpoint: string;
  readonly transport: Transport;
  /** Serves every batch with `handler`; resolves once the socket is closed. */
  serve(handler: BatchHandler): Promise<void>;
  /** Sends one message (routing id first); a ROUTER drops what it cannot route. */
  send(frames: Uint8Array[]): void;
  /** Resolves when every message sent has been handed to ZeroMQ. */
  drained(): Promise<void>;
  close(): void;
}

/** The transport used when none is asked for: native where libzmq loads. */
export function defaultTransport(): Transport {
  return native.nativeRouterUnavailable() === null ? 'native' : 'zeromq';
}

/** Binds the socket; `onSendError` hears of replies zeromq.js failed to send. */
export async function bindRequestSocket(
  endpoint: string,
  transport: Transport,
  options: RequestSocketOptions,
  onSendError: () => void,
): Promise<RequestSocket> {
  if (transport === 'native') return NativeRequestSocket.bind(endpoint, options);
  return ZeromqRequestSocket.bind(endpoint, options, onSendError);
}

class NativeRequestSocket implements RequestSocket {
  readonly transport = 'native';
  readonly #router: InstanceType<typeof native.NativeRouter>;
  #handler: BatchHandler | undefined;
  #outgoing: Uint8Array[][] = [];
  #flushQueued = false;
  #closed: (() => void) | undefined;

  private constructor(endpoint: string, options: RequestSocketOptions) {
    try {
      this.#router = native.NativeRouter.bind(endpoint, options, (messages) => this.#received(messages));
    } catch (error) {
      const { code, message } = error as { code?: string; message: string };
      throw new MmsbError((code as ErrorCode | undefined) ?? ErrorCode.IO_ERROR, message, { cause: error });
    }
  }

  static bind(endpoint: string, options: RequestSocketOptions): NativeRequestSocket {
    return new NativeRequestSocket(endpoint, options);
  }

  get endpoint(): string {
    return this.#router.endpoint;
  }

  serve(handler: BatchHandler): Promise<void> {
    this.#handler = handler;
    const closed = new Promise<void>((resolve) => (this.#closed = resolve));
    // The router hands over nothing before this: messages wait in ZeroMQ until there is a handler.
    this.#router.ready();
    return closed;
  }

  #received(messages: Buffer[][]): void {
    const done = this.#handler!(messages);
    if (done === undefined) this.#router.ready();
    // A rejection (a bug in the server) is still reported as unhandled; the socket serves on.
    else void done.finally(() => this.#router.ready());
  }

  send(frames: Uint8Array[]): void {
    this.#outgoing.push(frames);
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    // The replies made before the next microtask checkpoint (a group commit's, a batch's) leave in one call.
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#flushQueued = false;
    if (this.#outgoing.length === 0) return;
    const outgoing = this.#outgoing;
    this.#outgoing = [];
    this.#router.send(outgoing);
  }

  drained(): Promise<void> {
    this.#flush();
    return Promise.resolve();
  }

  close(): void {
    this.#flush();
    this.#router.close();
    this.#closed?.();
  }
}

class ZeromqRequestSocket implements RequestSocket {
  readonly transport = 'zeromq';
  readonly #router: Router;
  readonly #outbox: Outbox;

  private constructor(router: Router, onSendError: () => void) {
    this.#router = router;
    // zeromq.js allows one send in progress per socket, even on sockets that never block for long.
    this.#outbox = new Outbox(router, onSendError);
  }

  static async bind(endpoint: string, options: RequestSocketOptions, onSendError: () => void): Promise<ZeromqRequestSocket> {
    const router = new Router({
      maxMessageSize: options.maxMessageBytes,
      sendHighWaterMark: options.sendHighWaterMark,
      linger: options.lingerMs,
    });
    try {
      await router.bind(endpoint);
    } catch (error) {
      router.close();
      throw error;
    }
    return new ZeromqRequestSocket(router, onSendError);
  }

  get endpoint(): string {
    return this.#router.lastEndpoint ?? '';
  }

  async serve(handler: BatchHandler): Promise<void> {
    for (;;) {
      // receive() directly: the socket's async iterator wraps each message in one more promise.
      let message: Buffer[];
      try {
        message = await this.#router.receive();
      } catch (error) {
        if (this.#router.closed) return;
        throw error;
      }
      const done = handler([message]);
      if (done !== undefined) await done;
    }
  }

  send(frames: Uint8Array[]): void {
    this.#outbox.send(frames);
  }

  drained(): Promise<void> {
    return this.#outbox.drained();
  }

  close(): void {
    this.#router.close();
  }
}
