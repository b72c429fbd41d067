// Page memory: heap, arena and mapped pages behave alike, moves are logged
// changes that leave the state (and its hash) as it was, mapped pages expose
// a private file with the live bytes, and bad input is refused changing nothing.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { Bus, dense, ErrorCode, MEMORY, ranges, sparseFromBytes, type PageMemory } from '../src/index.js';
import { bytes, expectMmsbError, scratchDirectory } from './support.js';

const memories: PageMemory[] = ['heap', 'arena', 'mapped'];
const mode = (path: string): number => statSync(path).mode & 0o777;

/** The same writes to pages made in `memory`; returns what a reader sees. */
async function exercise(memory: PageMemory): Promise<{ hash: string; pages: unknown[] }> {
  const bus = Bus.memory();
  const single = await bus.createPage({ size: 100, memory });
  const many = await bus.createPages(3, { size: 40, memory });
  await bus.apply({ pageId: single, payload: dense(bytes(100, 3)) });
  await bus.apply({ pageId: many[0]!, payload: sparseFromBytes(40, [[5, 9]]) });
  await bus.applyBatch([
    { pageId: many[1]!, payload: ranges([{ offset: 2, bytes: Uint8Array.of(1, 2, 3) }]) },
    { pageId: single, payload: dense(bytes(100, 4)) },
  ]);
  await bus.releasePage(many[2]!);
  await bus.movePage(many[1]!, memory === 'heap' ? 'mapped' : 'heap');
  const pages = [single, many[0]!, many[1]!].map((id) => ({ epoch: bus.page(id).epoch, bytes: bus.read(id) }));
  const hash = bus.stateHash();
  await bus.close();
  return { hash, pages };
}

describe('page memory', () => {
  it('defaults to heap for one page and arena for small pages made in bulk, as page() reports', async () => {
    const bus = Bus.memory();
    const single = await bus.createPage({ size: 64 });
    const [bulk] = await bus.createPages(2, { size: 64 });
    const [large] = await bus.createPages(2, { size: 4097 });
    expect(bus.page(single).memory).toBe('heap');
    expect(bus.page(bulk!).memory).toBe('arena');
    expect(bus.page(large!).memory).toBe('heap');
    for (const memory of memories) {
      const id = await bus.createPage({ size: 8, memory });
      expect(bus.page(id)).toEqual({ id, size: 8, location: 'cpu', memory, epoch: 0 });
      const [first] = await bus.createPages(2, { size: 8, memory });
      expect(bus.page(first!).memory).toBe(memory);
    }
    await bus.close();
  });

  it('gives the same bytes, epochs and state hash in every memory', async () => {
    const results = await Promise.all(memories.map((memory) => exercise(memory)));
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
  });

  it('moves a page as a logged change that keeps its bytes, epoch and the hash', async () => {
    const bus = Bus.memory();
    const id = await bus.createPage({ size: 16 });
    await bus.apply({ pageId: id, payload: dense(bytes(16, 7)) });
    const hash = bus.stateHash();
    const before = bus.view(id);
    for (const memory of ['arena', 'mapped', 'heap'] as const) {
      const lsn = bus.lsn;
      expect(await bus.movePage(id, memory)).toBe(true);
      expect(bus.lsn).toBe(lsn + 1);
      expect(bus.page(id)).toMatchObject({ memory, epoch: 1 });
      expect(bus.stateHash()).toBe(hash);
      expect(bus.read(id)).toEqual(bytes(16, 7));
    }
    const lsn = bus.lsn;
    expect(await bus.movePage(id, 'heap')).toBe(false);
    expect(bus.lsn).toBe(lsn);
    // The old view keeps its bytes; a new one is live.
    await bus.apply({ pageId: id, payload: dense(bytes(16, 8)) });
    expect(before).toEqual(bytes(16, 7));
    expect(bus.view(id)).toEqual(bytes(16, 8));
    expect(bus.view(id)).not.toBe(before);
    await bus.close();
  });

  it('exposes a mapped page as a private file with the live bytes, removed at release, move and close', async () => {
    const directory = scratchDirectory('mapped');
    const bus = await Bus.open(directory, { fsync: 'never' });
    const id = await bus.createPage({ size: 5000, memory: 'mapped' });
    const file = bus.mappedFile(id)!;
    expect(dirname(file)).toBe(join(directory, 'pages'));
    expect([mode(file), mode(dirname(file))]).toEqual([0o600, 0o700]);
    await bus.apply({ pageId: id, payload: dense(bytes(5000, 0x5a)) });
    expect(new Uint8Array(readFileSync(file))).toEqual(bytes(5000, 0x5a));
    expect(bus.mappedFile(await bus.createPage({ size: 4 }))).toBeUndefined();

    await bus.releasePage(id);
    expect(existsSync(file)).toBe(false);
    const moved = await bus.createPage({ size: 10, memory: 'mapped' });
    const movedFile = bus.mappedFile(moved)!;
    await bus.movePage(moved, 'arena');
    expect(existsSync(movedFile)).toBe(false);
    expect(bus.mappedFile(moved)).toBeUndefined();
    const kept = await bus.createPage({ size: 10, memory: 'mapped' });
    const keptFile = bus.mappedFile(kept)!;
    await bus.close();
    expect(existsSync(keptFile)).toBe(false);
  });

  it('keeps every page in its memory across checkpoints and reopening, and removes leftover files', async () => {
    const directory = scratchDirectory('memory-reopen');
    const bus = await Bus.open(directory, { fsync: 'always' });
    const mapped = await bus.createPage({ size: 32, memory: 'mapped' });
    const arena = await bus.createPages(2, { size: 32 });
    await bus.apply({ pageId: mapped, payload: dense(bytes(32, 1)) });
    await bus.checkpoint();
    await bus.movePage(arena[1]!, 'heap');
    expect(bus.durableLsn).toBe(bus.lsn);
    const hash = bus.stateHash();
    await bus.close();
    writeFileSync(join(directory, 'pages', '00000000000000000077.page'), 'left by a crash');

    const reopened = await Bus.open(directory);
    expect(reopened.stateHash()).toBe(hash);
    expect([mapped, ...arena].map((id) => reopened.page(id).memory)).toEqual(['mapped', 'arena', 'heap']);
    expect(readdirSync(join(directory, 'pages'))).toEqual(['00000000000000000001.page']);
    expect(new Uint8Array(readFileSync(reopened.mappedFile(mapped)!))).toEqual(bytes(32, 1));
    const past = await reopened.stateAt(reopened.lsn - 1);
    expect(past.page(arena[1]!).memory).toBe('arena');
    expect(dirname(past.mappedFile(mapped)!)).not.toBe(join(directory, 'pages'));
    await reopened.close();
  });

  it('refuses bad memory names and unsuitable memory, changing nothing', async () => {
    const bus = Bus.memory();
    const id = await bus.createPage({ size: 5000 });
    const released = await bus.createPage({ size: 4 });
    await bus.releasePage(released);
    const hash = bus.stateHash();
    const lsn = bus.lsn;
    for (const memory of ['gpu', 'DEVICE', 'HEAP', '', 7, null, {}, ['heap']]) {
      const options = { size: 8, memory } as never;
      await expectMmsbError(() => bus.createPage(options), ErrorCode.INVALID_ARGUMENT);
      await expectMmsbError(() => bus.createPages(2, options), ErrorCode.INVALID_ARGUMENT);
      await expectMmsbError(() => bus.movePage(id, memory as never), ErrorCode.INVALID_ARGUMENT);
    }
    await expectMmsbError(() => bus.movePage(id, undefined as never), ErrorCode.INVALID_ARGUMENT);
    await expectMmsbError(() => bus.createPage({ size: 4097, memory: 'arena' }), ErrorCode.MEMORY_UNSUITABLE);
    await expectMmsbError(() => bus.createPages(3, { size: 4097, memory: 'arena' }), ErrorCode.MEMORY_UNSUITABLE);
    await expectMmsbError(() => bus.movePage(id, 'arena'), ErrorCode.MEMORY_UNSUITABLE);
    await expectMmsbError(() => bus.movePage(released, 'heap'), ErrorCode.PAGE_RELEASED);
    await expectMmsbError(() => bus.movePage(99, 'heap'), ErrorCode.PAGE_NOT_FOUND);
    await expectMmsbError(() => bus.movePage(-1, 'heap'), ErrorCode.INVALID_ARGUMENT);
    await expectMmsbError(() => bus.movePage('1' as never, 'heap'), ErrorCode.INVALID_ARGUMENT);
    expect(() => bus.mappedFile(1.5)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(() => bus.mappedFile(released)).toThrow(expect.objectContaining({ code: ErrorCode.PAGE_RELEASED }));
    expect(() => bus.mappedFile(99)).toThrow(expect.objectContaining({ code: ErrorCode.PAGE_NOT_FOUND }));
    expect(bus.stateHash()).toBe(hash);
    expect(bus.lsn).toBe(lsn);
    expect(bus.nextPageId).toBe(3);
    await bus.close();
    await expectMmsbError(() => bus.movePage(id, 'heap'), ErrorCode.BUS_CLOSED);
    expect(() => bus.mappedFile(id)).toThrow(expect.objectContaining({ code: ErrorCode.BUS_CLOSED }));
  });

  it('keeps a view of a released arena page apart from the pages made after it', async () => {
    const bus = await Bus.open(MEMORY);
    const ids = await bus.createPages(8, { size: 32, memory: 'arena' });
    for (const id of ids) await bus.apply({ pageId: id, payload: dense(bytes(32, id)) });
    const views = ids.map((id) => bus.view(id));
    for (const id of ids) await bus.releasePage(id);
    const fresh = await bus.createPages(64, { size: 32, memory: 'arena' });
    for (const id of fresh) await bus.apply({ pageId: id, payload: dense(bytes(32, 0xee)) });
    views.forEach((view, index) => expect(view).toEqual(bytes(32, ids[index]!)));
    await bus.close();
  });
});
