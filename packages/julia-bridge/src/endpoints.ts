/**
 * Which endpoints a server may bind. ipc and loopback tcp are open to the
 * machine's own users only; any other tcp address needs an auth key, so a
 * bus is never served to a network by accident.
 */
import { ErrorCode, MmsbError } from '@mmsb/bus';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** The host of a `tcp://host:port` endpoint. */
function tcpHost(endpoint: string): string {
  const address = endpoint.slice('tcp://'.length);
  const colon = address.lastIndexOf(':');
  return colon < 0 ? address : address.slice(0, colon);
}

export function isLoopback(endpoint: string): boolean {
  return endpoint.startsWith('ipc://') || (endpoint.startsWith('tcp://') && LOOPBACK.has(tcpHost(endpoint)));
}

/** Refuses an endpoint the server must not bind: not ipc or tcp, or off loopback without a key. */
export function checkEndpoint(endpoint: unknown, what: string, keyed: boolean): string {
  if (typeof endpoint !== 'string' || !(endpoint.startsWith('ipc://') || endpoint.startsWith('tcp://'))) {
    throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `${what} must be an ipc:// or tcp:// endpoint (got ${JSON.stringify(endpoint)})`);
  }
  if (!keyed && !isLoopback(endpoint)) {
    throw new MmsbError(
      ErrorCode.INVALID_ARGUMENT,
      `${what} ${endpoint} is reachable from other machines; serving it needs an auth key (--key-file), or use ipc:// or tcp://127.0.0.1`,
    );
  }
  return endpoint;
}
