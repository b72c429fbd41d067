// Servers and raw clients over real sockets for the bridge's tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Bus } from '@mmsb/bus';
import { Dealer } from 'zeromq';

import { decode } from '../src/decode.js';
import { encode, type Encodable } from '../src/msgpack.js';
import type { Transport } from '../src/request-socket.js';
import { BridgeServer, type ServerOptions } from '../src/server.js';

/** Both request sockets: the addon's (the default) and zeromq.js's (where libzmq is missing). */
export const TRANSPORTS: readonly Transport[] = ['native', 'zeromq'];

export interface Running {
  readonly bus: Bus;
  readonly server: BridgeServer;
  readonly directory: string;
  stop(): Promise<void>;
}

/** A server on loopback tcp over a bus in a temporary directory (or in memory). */
export async function startServer(
  options: Partial<Omit<ServerOptions, 'bus'>> & { readonly memory?: boolean; readonly fsync?: 'always' | 'never' } = {},
): Promise<Running> {
  const directory = mkdtempSync(join(tmpdir(), 'mmsb-bridge-test-'));
  const bus = options.memory === true ? Bus.memory() : await Bus.open(join(directory, 'data'), { fsync: options.fsync ?? 'never' });
  const server = await BridgeServer.start({
    endpoint: 'tcp://127.0.0.1:*',
    pub: 'tcp://127.0.0.1:*',
    shmRoot: directory,
    ...options,
    bus,
  });
  return {
    bus,
    server,
    directory,
    async stop() {
      await server.close();
      await bus.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** A DEALER that sends raw frames and reads raw responses, for what a client library would never send. */
export class RawPeer {
  readonly socket = new Dealer({ linger: 0 });

  constructor(endpoint: string) {
    this.socket.connect(endpoint);
  }

  async send(frames: Uint8Array | Uint8Array[]): Promise<void> {
    await this.socket.send(frames instanceof Uint8Array ? [frames] : frames);
  }

  async receive(): Promise<Record<string, unknown>> {
    const [body] = await this.socket.receive();
    return decode(body!) as Record<string, unknown>;
  }

  async request(value: Encodable): Promise<Record<string, unknown>> {
    await this.send(encode(value));
    return this.receive();
  }

  close(): void {
    this.socket.close();
  }
}

export function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (condition()) resolve();
      else if (Date.now() - start > timeoutMs) reject(new Error('condition not met in time'));
      else setTimeout(check, 10);
    };
    check();
  });
}
