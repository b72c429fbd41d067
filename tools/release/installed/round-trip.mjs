// Run inside the clean-install project against its own `mmsb serve`: a client
// round trip over ZeroMQ with the installed @mmsb/julia-bridge, inline and
// through shared memory. Usage: node round-trip.mjs <requests endpoint>
import assert from 'node:assert/strict';
import { connect } from '@mmsb/julia-bridge';

const same = (actual, expected) => assert.ok(Buffer.from(actual).equals(Buffer.from(expected)), 'bytes read back differ');

const client = await connect(process.argv[2]);
try {
  const small = await client.createPage({ size: 16, metadata: { name: 'installed' } });
  const bytes = Uint8Array.from({ length: 16 }, (_, i) => i * 3);
  const written = await client.write(small.handle, { kind: 'dense', bytes });
  assert.equal(written.epoch, 1);
  same((await client.read(small.handle)).bytes, bytes);

  const large = await client.createPage({ size: 4 << 20 });
  const payload = Uint8Array.from({ length: 4 << 20 }, (_, i) => (i * 7) & 0xff);
  await client.write(large.handle, { kind: 'dense', bytes: payload }, { viaShm: true });
  same((await client.read(large.handle)).bytes, payload);

  const { lsn } = await client.checkpoint();
  assert.ok(lsn >= written.lsn);
  assert.equal(await client.release([small.handle, large.handle]), 2);
  console.log(`round trip: 2 pages written and read back, checkpoint at LSN ${lsn}, state hash ${await client.hash()}`);
} finally {
  await client.close();
}
