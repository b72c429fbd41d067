/**
 * `mmsb demo`: the quickstart. Creates pages, applies each kind of delta and
 * a batch, shows a rejected delta changing nothing, and prints the state hash.
 */
import { Bus } from '../bus.js';
import { MmsbError } from '../errors.js';
import { dense, ranges, sparseFromBytes } from '../payloads.js';
import type { Print } from './main.js';

const PAGE_SIZE = 16;

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join(' ');
}

export async function runDemo(print: Print): Promise<void> {
  const bus = await Bus.open(':memory:');
  const show = (id: number, what: string): void => {
    const { epoch } = bus.page(id);
    print(`  ${what.padEnd(36)} page ${id} epoch ${epoch}  ${hex(bus.read(id))}`);
  };

  print('MMSB quickstart: an in-memory bus');
  const sensor = await bus.createPage({ size: PAGE_SIZE, metadata: { name: 'sensor', unit: 'raw' } });
  const summary = await bus.createPage({ size: PAGE_SIZE, metadata: { name: 'summary' } });
  print(`created pages ${sensor} (${JSON.stringify(bus.metadata(sensor))}) and ${summary}, ${PAGE_SIZE} bytes each`);
  show(sensor, 'zero at creation');

  await bus.apply({ pageId: sensor, payload: dense(Uint8Array.from({ length: PAGE_SIZE }, (_, index) => index)) });
  show(sensor, 'dense: every byte replaced');

  await bus.apply({
    pageId: sensor,
    payload: sparseFromBytes(PAGE_SIZE, [
      [1, 0xaa],
      [5, 0xbb],
      [14, 0xcc],
    ]),
  });
  show(sensor, 'sparse: bytes 1, 5, 14 by bit mask');

  await bus.apply({
    pageId: sensor,
    payload: ranges([
      { offset: 8, bytes: Uint8Array.of(0xde, 0xad) },
      { offset: 12, bytes: Uint8Array.of(0xbe, 0xef) },
    ]),
    expectEpoch: 2,
  });
  show(sensor, 'ranges at 8 and 12, expectEpoch 2');

  const applied = await bus.applyBatch([
    { pageId: summary, payload: dense(new Uint8Array(PAGE_SIZE).fill(0x11)) },
    { pageId: summary, payload: ranges([{ offset: 0, bytes: Uint8Array.of(0x22, 0x22) }]) },
  ]);
  show(summary, `batch of ${applied} deltas, one call`);

  const hashBefore = bus.stateHash();
  try {
    await bus.apply({ pageId: sensor, payload: dense(new Uint8Array(3)), expectEpoch: 3 });
  } catch (error) {
    if (!(error instanceof MmsbError)) throw error;
    print(`  rejected as expected: ${error.code}: ${error.message}`);
  }
  print(`  state hash unchanged by the rejected delta: ${bus.stateHash() === hashBefore}`);

  await bus.releasePage(summary);
  print(`released page ${summary}; the next id will be ${bus.nextPageId}, never ${summary}`);
  print(`state hash (BLAKE3): ${bus.stateHash()}`);
  await bus.close();
}
