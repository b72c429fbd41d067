/**
 * Which endpoints a server may bind. ipc and loopback tcp are open to the
 * machine's own users only; any other tcp address needs an auth key, so a
 * bus is never served to a network by accident.
 */
import { connect } from 'node:net';

import { ErrorCode, MmsbError } from '@mmsb/bus';

/** ZeroMQ binds addresses and interface names, not host names: `localhost` is bound as this. */
const LOOPBACK = '127.0.0.1';

/** The host of a `tcp://host:port` endpoint. */
function tcpHost(endpoint: string): string {
  const address = endpoint.slice('tcp://'.length);
  const colon = address.lastIndexOf(':');
  return colon < 0 ? address : address.slice(0, colon);
}

/**
 * Whether only this machine can reach `endpoint`: an ipc path (its
 * directory's permissions decide who) or loopback tcp. An abstract ipc
 * socket (`ipc://@name`) has no permissions at all: any user may connect.
 */
export function isLoopback(endpoint: string): boolean {
  if (endpoint.startsWith('ipc://')) return !endpoint.startsWith('ipc://@');
  return endpoint.startsWith('tcp://') && tcpHost(endpoint) === LOOPBACK;
}

/**
 * Refuses an ipc path another server is listening on: binding it would
 * unlink that server's socket and take its clients. A stale socket file of
 * a process that is gone is fine (binding replaces it).
 */
export async function checkIpcFree(endpoint: string): Promise<void> {
  if (!endpoint.startsWith('ipc://') || endpoint.startsWith('ipc://@')) return;
  const path = endpoint.slice('ipc://'.length);
  const listening = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (listening) throw new MmsbError(ErrorCode.IO_ERROR, `${endpoint} is in use by another server`);
}

/**
 * The endpoint to bind, `localhost` read as 127.0.0.1; refuses one the
 * server must not bind: not ipc or tcp, IPv6 (the sockets' IPv6 option is
 * off), or off loopback without a key.
 */
export function checkEndpoint(given: unknown, what: string, keyed: boolean): string {
  if (typeof given !== 'string' || !(given.startsWith('ipc://') || given.startsWith('tcp://'))) {
    throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `${what} must be an ipc:// or tcp:// endpoint (got ${JSON.stringify(given)})`);
  }
  const endpoint = given.startsWith('tcp://localhost:') ? `tcp://${LOOPBACK}:${given.slice('tcp://localhost:'.length)}` : given;
  if (endpoint.startsWith('tcp://') && (tcpHost(endpoint).startsWith('[') || tcpHost(endpoint).includes(':'))) {
    throw new MmsbError(
      ErrorCode.INVALID_ARGUMENT,
      `${what} ${endpoint}: IPv6 addresses are not served; use tcp://${LOOPBACK}:PORT on this machine, ` +
        'or an IPv4 address or interface with a key',
    );
  }
  if (!keyed && !isLoopback(endpoint)) {
    // Abstract ipc sockets land here too: they are open to every user of the machine.
    throw new MmsbError(
      ErrorCode.INVALID_ARGUMENT,
      `${what} ${endpoint} is reachable from other machines; serving it needs an auth key (--key-file), or use ipc:// or tcp://127.0.0.1`,
    );
  }
  return endpoint;
}
