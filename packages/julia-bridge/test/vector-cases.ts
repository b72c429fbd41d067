// The conformance cases of protocol v1, in order over one connection to a
// fresh server on a new data directory with `mmsb serve`'s defaults. `pnpm --filter @mmsb/julia-bridge run
// vectors` turns them into vectors/v1.json (request bytes and the server's
// responses); the tests replay that file. Edit the cases, regenerate, and
// review the diff of the file: it is the protocol's executable specification.
import { encode, U64, type Encodable } from '../src/msgpack.js';
import { pack } from '../src/packed.js';

export interface Case {
  readonly name: string;
  /** The request, or raw bytes (hex) that are not a valid request. */
  readonly request: Encodable | { readonly raw: string };
  /** Dotted paths of response keys whose values differ between runs. */
  readonly ignore?: readonly string[];
}

const bytes = (...values: number[]) => Uint8Array.from(values);
const sixteen = Uint8Array.from({ length: 16 }, (_, index) => index);
let rid = 0;
const r = (op: string, args: Record<string, Encodable> = {}): Encodable => ({ v: 1, rid: new U64(++rid), op, ...args });
const h = (handle: number) => new U64(handle);
const hex = (value: Uint8Array) => Buffer.from(value).toString('hex');
/** A packed message (docs/protocol.md, "Packed messages") of requests, or of raw member bytes (hex). */
const packed = (...members: (Encodable | { readonly raw: string })[]) => ({
  raw: hex(pack(members.map((member) => (isRaw(member) ? Buffer.from(member.raw, 'hex') : encode(member))))),
});
function isRaw(member: Encodable | { readonly raw: string }): member is { readonly raw: string } {
  return typeof member === 'object' && member !== null && 'raw' in member && typeof member.raw === 'string';
}

export const cases: readonly Case[] = [
  { name: 'ping before hello: no session', request: r('ping') },
  { name: 'hello offering no shared version', request: r('hello', { versions: [7] }) },
  {
    name: 'hello',
    request: r('hello', { versions: [1], client: 'vectors' }),
    ignore: ['session', 'shmDir', 'pub', 'server'],
  },
  { name: 'second hello on the connection', request: r('hello', { versions: [1] }) },
  { name: 'create a 16-byte page with metadata', request: r('create', { size: 16, metadata: { name: 'vector' } }) },
  { name: 'dense write', request: r('write', { handle: h(1), form: 'dense', bytes: sixteen }) },
  { name: 'sparse write', request: r('write', { handle: h(1), form: 'sparse', mask: bytes(0x05, 0x80), bytes: bytes(0xaa, 0xbb, 0xcc) }) },
  {
    name: 'ranges write',
    request: r('write', {
      handle: h(1),
      form: 'ranges',
      ranges: [
        [4, bytes(1, 2)],
        [10, bytes(9)],
      ],
    }),
  },
  { name: 'read the whole page inline', request: r('read', { handle: h(1) }) },
  { name: 'read a range', request: r('read', { handle: h(1), offset: 4, length: 4, via: 'inline' }) },
  { name: 'read through shared memory', request: r('read', { handle: h(1), via: 'shm' }), ignore: ['shm.path'] },
  { name: 'dense write of the wrong size', request: r('write', { handle: h(1), form: 'dense', bytes: bytes(1, 2, 3) }) },
  { name: 'write expecting a stale epoch', request: r('write', { handle: h(1), form: 'dense', bytes: sixteen, expectEpoch: 1 }) },
  { name: 'read outside the page', request: r('read', { handle: h(1), offset: 10, length: 10 }) },
  { name: 'create a second page', request: r('create', { size: 16 }) },
  { name: 'edge 1 -> 2', request: r('edge', { parent: h(1), child: h(2) }) },
  { name: 'edge 2 -> 1 closes a cycle', request: r('edge', { parent: h(2), child: h(1) }) },
  {
    name: 'batch of two deltas',
    request: r('batch', {
      deltas: [
        { handle: h(1), form: 'ranges', ranges: [[0, bytes(7)]] },
        { handle: h(2), form: 'dense', bytes: sixteen },
      ],
    }),
  },
  {
    name: 'batch with one bad delta changes nothing',
    request: r('batch', {
      deltas: [
        { handle: h(1), form: 'ranges', ranges: [[0, bytes(8)]] },
        { handle: h(2), form: 'dense', bytes: bytes(1) },
      ],
    }),
  },
  { name: 'open page 1 again: same handle, two references', request: r('open', { page: new U64(1) }) },
  { name: 'release one reference', request: r('release', { handles: [h(1)] }) },
  { name: 'info', request: r('info', { handle: h(1) }) },
  { name: 'a handle never issued', request: r('read', { handle: h(999) }) },
  { name: 'an id above 2^53', request: r('read', { handle: new U64(2n ** 60n) }) },
  { name: 'a negative id', request: r('read', { handle: -1 }) },
  { name: 'a string where a handle goes', request: r('read', { handle: 'one' }) },
  { name: 'a missing field', request: r('write', { handle: h(1), form: 'dense' }) },
  { name: 'an unknown form', request: r('write', { handle: h(1), form: 'xor', bytes: sixteen }) },
  { name: 'an unknown operation', request: r('explode') },
  { name: 'a future protocol version', request: { v: 2, rid: new U64(++rid), op: 'ping' } },
  { name: 'not msgpack', request: { raw: 'c1' } },
  { name: 'an array, not a map', request: { raw: '9101' } },
  { name: 'a map without rid', request: { v: 1, op: 'ping' } },
  { name: 'unknown location', request: r('create', { size: 8, location: 'moon' }) },
  { name: 'zero-sized page', request: r('create', { size: 0 }) },
  { name: 'log', request: r('log'), ignore: ['syncs'] },
  { name: 'replay page 1 at LSN 2', request: r('replay', { lsn: 2, handles: [h(1)] }) },
  { name: 'replay past the end', request: r('replay', { lsn: 999, handles: [h(1)] }) },
  { name: 'state hash', request: r('hash') },
  { name: 'remove the edge', request: r('unedge', { parent: h(1), child: h(2) }) },
  { name: 'remove it again', request: r('unedge', { parent: h(1), child: h(2) }) },
  { name: 'delete page 2', request: r('delete', { handle: h(2) }) },
  { name: 'read a deleted page', request: r('read', { handle: h(2) }) },
  { name: 'ping releasing handle 2 on the way', request: r('ping', { release: [h(2)] }) },
  { name: 'handle 2 is gone', request: r('info', { handle: h(2) }) },
  { name: 'a release list with a bad handle releases nothing', request: r('release', { handles: [h(1), h(77)] }) },
  {
    name: 'packed: ping, a read and the hash, answered in one packed message in member order',
    request: packed(r('ping'), r('read', { handle: h(1), length: 4, via: 'inline' }), r('hash')),
  },
  {
    name: 'packed: a write, a failing write and a write after it, each answered as if alone',
    request: packed(
      r('write', { handle: h(1), form: 'dense', bytes: sixteen }),
      r('write', { handle: h(1), form: 'dense', bytes: bytes(1) }),
      r('write', { handle: h(1), form: 'ranges', ranges: [[0, bytes(5)]] }),
    ),
  },
  {
    name: 'packed: malformed members get their error responses in their places',
    request: packed({ raw: 'c1' }, { v: 1, op: 'ping' }, r('explode'), { v: 2, rid: new U64(++rid), op: 'ping' }, r('ping')),
  },
  { name: 'packed: an empty array', request: { raw: '90' } },
  { name: 'packed: a member that is not a binary', request: { raw: hex(Uint8Array.of(0x92, 0xc4, 0x01, 0xc0, 0x07)) } },
  { name: 'packed: bytes after the last member', request: { raw: hex(Uint8Array.of(...pack([encode(r('ping'))]), 0xc0)) } },
  { name: 'packed: a member longer than the message', request: { raw: '91c40a8001' } },
  { name: 'packed: more members than maxPackedRequests', request: { raw: 'dc0401' } },
  { name: 'sync', request: r('sync') },
  { name: 'bye frees the rest', request: r('bye') },
  { name: 'after bye: no session', request: r('ping') },
];
