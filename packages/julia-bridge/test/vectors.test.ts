// The conformance vectors: vectors/v1.json replayed over one connection to a
// fresh server must give its responses, key for key (but the keys each case
// says vary between runs). MMSB.jl's tests and the Python client replay the
// same file. MMSB_UPDATE_VECTORS=1 (`pnpm run vectors`) rewrites it from
// vector-cases.ts; review the diff.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { beforeAll, describe, expect, it } from 'vitest';

import { decode } from '../src/decode.js';
import { encode } from '../src/msgpack.js';
import { RawPeer, startServer } from './support.js';
import { cases } from './vector-cases.js';

interface Vector {
  readonly name: string;
  readonly request: string;
  readonly response: string;
  readonly ignore: readonly string[];
}

const FILE = fileURLToPath(new URL('../vectors/v1.json', import.meta.url));

function requestBytes(request: (typeof cases)[number]['request']): Uint8Array {
  if (typeof request === 'object' && request !== null && 'raw' in request && typeof request.raw === 'string') {
    return Buffer.from(request.raw, 'hex');
  }
  return encode(request as Parameters<typeof encode>[0]);
}

/** The value without the keys at `paths` (dotted). */
function without(value: unknown, paths: readonly string[]): unknown {
  const copy = structuredClone(value) as Record<string, unknown>;
  for (const path of paths) {
    const keys = path.split('.');
    let target: Record<string, unknown> | undefined = copy;
    for (const key of keys.slice(0, -1)) target = target?.[key] as Record<string, unknown> | undefined;
    if (target !== undefined) delete target[keys.at(-1)!];
  }
  return copy;
}

async function replay(requests: readonly Uint8Array[]): Promise<Uint8Array[]> {
  const running = await startServer({ fsync: 'always' });
  const peer = new RawPeer(running.server.endpoint);
  try {
    const responses: Uint8Array[] = [];
    for (const request of requests) {
      await peer.send(request);
      const [body] = await peer.socket.receive();
      responses.push(new Uint8Array(body!));
    }
    return responses;
  } finally {
    peer.close();
    await running.stop();
  }
}

describe('conformance vectors', () => {
  let vectors: Vector[];

  beforeAll(async () => {
    if (process.env.MMSB_UPDATE_VECTORS === '1' || !existsSync(FILE)) {
      const requests = cases.map((entry) => requestBytes(entry.request));
      const responses = await replay(requests);
      const written = cases.map((entry, index) => ({
        name: entry.name,
        request: Buffer.from(requests[index]!).toString('hex'),
        response: Buffer.from(responses[index]!).toString('hex'),
        ignore: entry.ignore ?? [],
      }));
      writeFileSync(FILE, `${JSON.stringify({ protocol: 1, cases: written }, null, 2)}\n`);
    }
    vectors = (JSON.parse(readFileSync(FILE, 'utf8')) as { cases: Vector[] }).cases;
  });

  it('the file holds exactly the cases of vector-cases.ts', () => {
    expect(vectors.map((vector) => vector.name)).toEqual(cases.map((entry) => entry.name));
    expect(vectors.map((vector) => vector.request)).toEqual(cases.map((entry) => Buffer.from(requestBytes(entry.request)).toString('hex')));
  });

  it('a fresh server answers every request as the file says', async () => {
    const responses = await replay(vectors.map((vector) => Buffer.from(vector.request, 'hex')));
    vectors.forEach((vector, index) => {
      const actual = without(decode(responses[index]!), vector.ignore);
      const expected = without(decode(Buffer.from(vector.response, 'hex')), vector.ignore);
      expect(actual, vector.name).toEqual(expected);
    });
  });

  it('ids in responses are msgpack uint 64 whatever their value', () => {
    const created = vectors.find((vector) => vector.name === 'create a 16-byte page with metadata')!;
    const body = Buffer.from(created.response, 'hex');
    // "handle" then 0xcf and eight bytes of 1.
    expect(body.includes(Buffer.concat([Buffer.from('a668616e646c65cf', 'hex'), Buffer.from('0000000000000001', 'hex')]))).toBe(true);
  });
});
