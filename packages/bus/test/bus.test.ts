// The Bus's behaviour: pages, reads, views, metadata, batches and ids.
import { describe, expect, it } from 'vitest';

import { Bus, dense, ErrorCode, MEMORY, ranges, sparse, sparseFromBytes } from '../src/index.js';
import { bytes, expectMmsbError } from './support.js';

describe('pages', () => {
  it('are zero at creation, at epoch 0, with their metadata', async () => {
    const bus = await Bus.open(MEMORY);
    const id = await bus.createPage({ size: 10, metadata: { name: 'a', shape: [2, 5], raw: Uint8Array.of(1, 2) } });
    expect(bus.page(id)).toEqual({ id, size: 10, location: 'cpu', memory: 'heap', epoch: 0 });
    expect(bus.read(id)).toEqual(bytes(10));
    const { raw, ...rest } = bus.metadata(id);
    expect(rest).toEqual({ name: 'a', shape: [2, 5] });
    expect(raw).toBeInstanceOf(Uint8Array);
    expect(Uint8Array.from(raw as Uint8Array)).toEqual(Uint8Array.of(1, 2));
  });

  it('get ids from 1 upward that are never reused', async () => {
    const bus = Bus.memory();
    const first = await bus.createPage({ size: 1 });
    const more = await bus.createPages(3, { size: 2 });
    await bus.releasePage(first);
    await bus.releasePage(more[2]!);
    const next = await bus.createPage({ size: 1 });
    expect([first, ...more, next]).toEqual([1, 2, 3, 4, 5]);
    expect(bus.livePageCount).toBe(3);
  });

  it('count epochs per applied delta', async () => {
    const bus = Bus.memory();
    const id = await bus.createPage({ size: 4 });
    expect(await bus.apply({ pageId: id, payload: dense(bytes(4, 1)) })).toEqual({ pageId: id, epoch: 1, lsn: 2 });
    expect(await bus.apply({ pageId: id, payload: dense(bytes(4, 2)), expectEpoch: 1 })).toEqual({ pageId: id, epoch: 2, lsn: 3 });
    expect(bus.page(id).epoch).toBe(2);
  });
});

describe('reads and views', () => {
  it('read copies a range; changing the copy changes nothing', async () => {
    const bus = Bus.memory();
    const id = await bus.createPage({ size: 8 });
    await bus.apply({ pageId: id, payload: dense(Uint8Array.of(0, 1, 2, 3, 4, 5, 6, 7)) });
    const part = bus.read(id, { offset: 2, length: 3 });
    expect(part).toEqual(Uint8Array.of(2, 3, 4));
    part.fill(99);
    expect(bus.read(id, { offset: 2, length: 3 })).toEqual(Uint8Array.of(2, 3, 4));
    expect(bus.read(id, { offset: 8 })).toEqual(new Uint8Array(0));
  });

  it('readMany copies many pages in order', async () => {
    const bus = Bus.memory();
    const ids = await bus.createPages(3, { size: 2 });
    await bus.applyBatch(ids.map((pageId, index) => ({ pageId, payload: dense(bytes(2, index + 1)) })));
    expect(bus.readMany([ids[2]!, ids[0]!])).toEqual([bytes(2, 3), bytes(2, 1)]);
  });

  it('a view is zero-copy and live, is cached, and outlives release without aliasing', async () => {
    const bus = Bus.memory();
    const id = await bus.createPage({ size: 4 });
    const view = bus.view(id);
    expect(bus.view(id)).toBe(view);
    await bus.apply({ pageId: id, payload: dense(Uint8Array.of(1, 2, 3, 4)) });
    expect(view).toEqual(Uint8Array.of(1, 2, 3, 4));
    await bus.releasePage(id);
    const other = await bus.createPage({ size: 4 });
    await bus.apply({ pageId: other, payload: dense(bytes(4, 7)) });
    expect(view).toEqual(Uint8Array.of(1, 2, 3, 4));
    await expectMmsbError(() => bus.view(id), ErrorCode.PAGE_RELEASED);
  });
});

describe('deltas', () => {
  it('sparse writes the bytes of set mask bits, least significant bit first', async () => {
    const bus = Bus.memory();
    const id = await bus.createPage({ size: 10 });
    await bus.apply({ pageId: id, payload: sparse(Uint8Array.of(0b1000_0001, 0b10), Uint8Array.of(5, 6, 7)) });
    expect(bus.read(id)).toEqual(Uint8Array.of(5, 0, 0, 0, 0, 0, 0, 6, 0, 7));
  });

  it('sparseFromBytes accepts any order and keeps the last write of an offset', async () => {
    const bus = Bus.memory();
    const id = await bus.createPage({ size: 5 });
    await bus.apply({
      pageId: id,
      payload: sparseFromBytes(5, [
        [4, 1],
        [0, 2],
        [4, 3],
      ]),
    });
    expect(bus.read(id)).toEqual(Uint8Array.of(2, 0, 0, 0, 3));
  });

  it('ranges write at their offsets', async () => {
    const bus = Bus.memory();
    const id = await bus.createPage({ size: 6 });
    await bus.apply({
      pageId: id,
      payload: ranges([
        { offset: 0, bytes: Uint8Array.of(1) },
        { offset: 4, bytes: Uint8Array.of(2, 3) },
      ]),
    });
    expect(bus.read(id)).toEqual(Uint8Array.of(1, 0, 0, 0, 2, 3));
  });

  it('a batch checks expectEpoch against the deltas before it', async () => {
    const bus = Bus.memory();
    const id = await bus.createPage({ size: 1 });
    const count = await bus.applyBatch(
      [0, 1, 2].map((epoch) => ({ pageId: id, payload: dense(Uint8Array.of(epoch)), expectEpoch: epoch })),
    );
    expect(count).toBe(3);
    expect(bus.page(id).epoch).toBe(3);
    expect(bus.read(id)).toEqual(Uint8Array.of(2));
  });

  it('metadata can be replaced and removed, and does not move the epoch', async () => {
    const bus = Bus.memory();
    const id = await bus.createPage({ size: 1, metadata: { a: 1, b: 2 } });
    await bus.setMetadata(id, 'a', { nested: [true, null] });
    await bus.setMetadata(id, 'b', undefined);
    expect(bus.metadata(id)).toEqual({ a: { nested: [true, null] } });
    expect(bus.page(id).epoch).toBe(0);
  });
});

describe('state hash', () => {
  it('is the same for the same operations and changes with any byte', async () => {
    const build = async (last: number): Promise<string> => {
      const bus = Bus.memory();
      const id = await bus.createPage({ size: 3, metadata: { k: 'v' } });
      await bus.apply({ pageId: id, payload: dense(Uint8Array.of(1, 2, last)) });
      return bus.stateHash();
    };
    expect(await build(3)).toBe(await build(3));
    expect(await build(3)).not.toBe(await build(4));
    expect(await build(3)).toMatch(/^[0-9a-f]{64}$/);
  });
});
