/**
 * @mmsb/julia-bridge: the ZeroMQ + msgpack bridge of docs/protocol.md.
 *
 * ```ts
 * import { connect } from '@mmsb/julia-bridge';
 * const client = await connect('ipc:///run/user/1000/mmsb-1000/mmsb.sock');
 * const { handle } = await client.createPage({ size: 4096 });
 * ```
 */
export {
  BridgeClient,
  connect,
  type CommitNotice,
  type ConnectOptions,
  type PageDetails,
  type PageHandle,
  type WriteOptions,
} from './client.js';
export type { BridgeSnapshot, DropReason } from './counters.js';
export { isLoopback } from './endpoints.js';
export { decode, DecodeError } from './decode.js';
export { encode, U64, type Encodable } from './msgpack.js';
export {
  DEFAULT_LIMITS,
  DEFAULT_LIVENESS,
  OPERATIONS,
  PROTOCOL_VERSION,
  PROTOCOL_VERSIONS,
  type Limits,
  type Liveness,
  type Operation,
} from './protocol.js';
export { runServe, defaultDataDirectory, SERVE_HELP } from './serve.js';
export { BridgeServer, type ServerOptions } from './server.js';
