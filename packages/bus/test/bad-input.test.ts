// Every public entry, given bad input, fails with MmsbError and the right
// code, and leaves the state hash exactly as it was.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { beforeEach, describe, expect, it } from 'vitest';

import { Bus, dense, encodeBatch, ErrorCode, mergePayloads, ranges, sparse, sparseFromBytes, type Delta } from '../src/index.js';
import { bytes, expectMmsbError, scratchDirectory } from './support.js';

const SIZE = 20;
let bus: Bus;
let page: number;
let other: number;
let released: number;

beforeEach(async () => {
  bus = Bus.memory();
  page = await bus.createPage({ size: SIZE, metadata: { kept: 1 } });
  released = await bus.createPage({ size: SIZE });
  other = await bus.createPage({ size: SIZE });
  await bus.addEdge(page, other);
  await bus.apply({ pageId: page, payload: dense(bytes(SIZE, 9)) });
  await bus.releasePage(released);
  bus.view(page);
});

const wrong = (value: unknown) => value as never;
const scratch = (): string => scratchDirectory('bad-input');
const fileNotDirectory = (): string => {
  const path = join(scratch(), 'file');
  writeFileSync(path, 'x');
  return path;
};

type Case = readonly [name: string, call: () => unknown, code: ErrorCode];

const cases = (): Case[] => [
  ['open: directory not a string', () => Bus.open(wrong(42)), ErrorCode.INVALID_ARGUMENT],
  ['open: unknown fsync policy', () => Bus.open(scratch(), { fsync: wrong('sometimes') }), ErrorCode.INVALID_ARGUMENT],
  ['open: unknown sync thread', () => Bus.open(scratch(), { syncThread: wrong('gpu') }), ErrorCode.INVALID_ARGUMENT],
  ['open: zero segment size', () => Bus.open(scratch(), { segmentBytes: 0 }), ErrorCode.INVALID_ARGUMENT],
  ['open: options not an object', () => Bus.open(scratch(), wrong(5)), ErrorCode.INVALID_ARGUMENT],
  ['open: a file where the directory should be', () => Bus.open(fileNotDirectory()), ErrorCode.IO_ERROR],
  ['stateAt: an in-memory bus keeps no history', () => bus.stateAt(1), ErrorCode.INVALID_ARGUMENT],
  ['stateAt: lsn not a number', () => bus.stateAt(wrong('1')), ErrorCode.INVALID_ARGUMENT],
  ['checkpoint: an in-memory bus has none', () => bus.checkpoint(), ErrorCode.INVALID_ARGUMENT],
  ['createPage: options not an object', () => bus.createPage(wrong(null)), ErrorCode.INVALID_ARGUMENT],
  ['createPage: size not a number', () => bus.createPage({ size: wrong('20') }), ErrorCode.INVALID_ARGUMENT],
  ['createPage: fractional size', () => bus.createPage({ size: 1.5 }), ErrorCode.INVALID_ARGUMENT],
  ['createPage: zero size', () => bus.createPage({ size: 0 }), ErrorCode.PAGE_SIZE_INVALID],
  ['createPage: size above 2^32 - 1', () => bus.createPage({ size: 2 ** 32 }), ErrorCode.PAGE_SIZE_INVALID],
  ['createPage: unknown location', () => bus.createPage({ size: 4, location: wrong('tpu') }), ErrorCode.LOCATION_UNKNOWN],
  ['createPage: location not a string', () => bus.createPage({ size: 4, location: wrong(3) }), ErrorCode.INVALID_ARGUMENT],
  ['createPage: gpu without CUDA', () => bus.createPage({ size: 4, location: 'gpu' }), ErrorCode.CUDA_UNAVAILABLE],
  ['createPage: unified without CUDA', () => bus.createPage({ size: 4, location: 'unified' }), ErrorCode.CUDA_UNAVAILABLE],
  ['createPage: empty metadata key', () => bus.createPage({ size: 4, metadata: { '': 1 } }), ErrorCode.METADATA_INVALID],
  ['createPage: metadata function', () => bus.createPage({ size: 4, metadata: { f: () => 1 } }), ErrorCode.METADATA_INVALID],
  ['createPage: metadata not an object', () => bus.createPage({ size: 4, metadata: wrong('x') }), ErrorCode.INVALID_ARGUMENT],
  ['createPages: zero count', () => bus.createPages(0, { size: 4 }), ErrorCode.INVALID_ARGUMENT],
  ['createPages: count not a number', () => bus.createPages(wrong('2'), { size: 4 }), ErrorCode.INVALID_ARGUMENT],
  ['createPages: unknown location', () => bus.createPages(2, { size: 4, location: wrong('disk') }), ErrorCode.LOCATION_UNKNOWN],
  ['createPages: zero size', () => bus.createPages(2, { size: 0 }), ErrorCode.PAGE_SIZE_INVALID],
  ['releasePage: unknown page', () => bus.releasePage(99), ErrorCode.PAGE_NOT_FOUND],
  ['releasePage: released page', () => bus.releasePage(released), ErrorCode.PAGE_RELEASED],
  ['releasePage: negative id', () => bus.releasePage(-1), ErrorCode.INVALID_ARGUMENT],
  ['releasePage: id as string', () => bus.releasePage(wrong('1')), ErrorCode.INVALID_ARGUMENT],
  ['page: unknown page', () => bus.page(99), ErrorCode.PAGE_NOT_FOUND],
  ['page: id zero', () => bus.page(0), ErrorCode.PAGE_NOT_FOUND],
  ['page: released page', () => bus.page(released), ErrorCode.PAGE_RELEASED],
  ['page: id as bigint', () => bus.page(wrong(1n)), ErrorCode.INVALID_ARGUMENT],
  ['metadata: released page', () => bus.metadata(released), ErrorCode.PAGE_RELEASED],
  ['setMetadata: unknown page', () => bus.setMetadata(99, 'k', 1), ErrorCode.PAGE_NOT_FOUND],
  ['setMetadata: released page', () => bus.setMetadata(released, 'k', 1), ErrorCode.PAGE_RELEASED],
  ['setMetadata: key too long', () => bus.setMetadata(page, 'k'.repeat(257), 1), ErrorCode.METADATA_INVALID],
  ['setMetadata: key not a string', () => bus.setMetadata(page, wrong(5), 1), ErrorCode.INVALID_ARGUMENT],
  ['setMetadata: value too large', () => bus.setMetadata(page, 'big', 'x'.repeat(70_000)), ErrorCode.METADATA_INVALID],
  ['read: unknown page', () => bus.read(99), ErrorCode.PAGE_NOT_FOUND],
  ['read: released page', () => bus.read(released), ErrorCode.PAGE_RELEASED],
  ['read: range out of bounds', () => bus.read(page, { offset: 10, length: 11 }), ErrorCode.RANGE_OUT_OF_BOUNDS],
  ['read: offset past the end', () => bus.read(page, { offset: 21 }), ErrorCode.RANGE_OUT_OF_BOUNDS],
  ['read: offset not a number', () => bus.read(page, { offset: wrong('1') }), ErrorCode.INVALID_ARGUMENT],
  ['readMany: unknown page among known', () => bus.readMany([page, 99]), ErrorCode.PAGE_NOT_FOUND],
  ['readMany: released page', () => bus.readMany([released]), ErrorCode.PAGE_RELEASED],
  ['readMany: not an array', () => bus.readMany(wrong(page)), ErrorCode.INVALID_ARGUMENT],
  ['view: released page', () => bus.view(released), ErrorCode.PAGE_RELEASED],
  ['view: unknown page', () => bus.view(99), ErrorCode.PAGE_NOT_FOUND],
  ['apply: unknown page', () => bus.apply({ pageId: 99, payload: dense(bytes(SIZE)) }), ErrorCode.PAGE_NOT_FOUND],
  ['apply: released page', () => bus.apply({ pageId: released, payload: dense(bytes(SIZE)) }), ErrorCode.PAGE_RELEASED],
  ['apply: dense of the wrong size', () => bus.apply({ pageId: page, payload: dense(bytes(SIZE - 1)) }), ErrorCode.DELTA_SIZE_MISMATCH],
  [
    'apply: mask of the wrong length',
    () => bus.apply({ pageId: page, payload: sparse(bytes(2), bytes(0)) }),
    ErrorCode.DELTA_SIZE_MISMATCH,
  ],
  [
    'apply: mask bit past the page end',
    () => bus.apply({ pageId: page, payload: sparse(Uint8Array.of(0, 0, 0x10), bytes(1)) }),
    ErrorCode.DELTA_SIZE_MISMATCH,
  ],
  [
    'apply: packed bytes not matching the mask',
    () => bus.apply({ pageId: page, payload: sparse(Uint8Array.of(3, 0, 0), bytes(1)) }),
    ErrorCode.DELTA_SIZE_MISMATCH,
  ],
  [
    'apply: range out of bounds',
    () => bus.apply({ pageId: page, payload: ranges([{ offset: 18, bytes: bytes(3) }]) }),
    ErrorCode.RANGE_OUT_OF_BOUNDS,
  ],
  [
    'apply: range offset past 2^32',
    () => bus.apply({ pageId: page, payload: ranges([{ offset: 2 ** 33, bytes: bytes(1) }]) }),
    ErrorCode.RANGE_OUT_OF_BOUNDS,
  ],
  [
    'apply: overlapping ranges',
    () =>
      bus.apply({
        pageId: page,
        payload: ranges([
          { offset: 0, bytes: bytes(4) },
          { offset: 3, bytes: bytes(1) },
        ]),
      }),
    ErrorCode.RANGE_OVERLAP,
  ],
  ['apply: epoch conflict', () => bus.apply({ pageId: page, payload: dense(bytes(SIZE)), expectEpoch: 0 }), ErrorCode.EPOCH_CONFLICT],
  [
    'apply: unknown payload kind',
    () => bus.apply({ pageId: page, payload: wrong({ kind: 'xor', bytes: bytes(SIZE) }) }),
    ErrorCode.INVALID_ARGUMENT,
  ],
  [
    'apply: bytes not a Uint8Array',
    () => bus.apply({ pageId: page, payload: wrong({ kind: 'dense', bytes: [1, 2] }) }),
    ErrorCode.INVALID_ARGUMENT,
  ],
  [
    'apply: unknown source',
    () => bus.apply({ pageId: page, payload: dense(bytes(SIZE)), source: wrong('cron') }),
    ErrorCode.INVALID_ARGUMENT,
  ],
  ['apply: pageId as string', () => bus.apply({ pageId: wrong('1'), payload: dense(bytes(SIZE)) }), ErrorCode.INVALID_ARGUMENT],
  ['apply: delta not an object', () => bus.apply(wrong(undefined)), ErrorCode.INVALID_ARGUMENT],
  [
    'apply: expectEpoch fractional',
    () => bus.apply({ pageId: page, payload: dense(bytes(SIZE)), expectEpoch: 0.5 }),
    ErrorCode.INVALID_ARGUMENT,
  ],
  ['applyBatch: not an array', () => bus.applyBatch(wrong({})), ErrorCode.INVALID_ARGUMENT],
  [
    'applyBatch: a bad delta after good ones',
    () => bus.applyBatch(batchWithLast({ pageId: page, payload: dense(bytes(3)) })),
    ErrorCode.DELTA_SIZE_MISMATCH,
  ],
  [
    'applyBatch: unknown page last',
    () => bus.applyBatch(batchWithLast({ pageId: 77, payload: dense(bytes(SIZE)) })),
    ErrorCode.PAGE_NOT_FOUND,
  ],
  [
    'applyBatch: released page last',
    () => bus.applyBatch(batchWithLast({ pageId: released, payload: dense(bytes(SIZE)) })),
    ErrorCode.PAGE_RELEASED,
  ],
  [
    'applyBatch: epoch conflict last',
    () => bus.applyBatch(batchWithLast({ pageId: page, payload: dense(bytes(SIZE)), expectEpoch: 1 })),
    ErrorCode.EPOCH_CONFLICT,
  ],
  [
    'applyBatch: mask of the wrong length',
    () => bus.applyBatch(batchWithLast({ pageId: page, payload: sparse(bytes(4), bytes(0)) })),
    ErrorCode.DELTA_SIZE_MISMATCH,
  ],
  [
    'applyBatch: range out of bounds',
    () => bus.applyBatch(batchWithLast({ pageId: page, payload: ranges([{ offset: 20, bytes: bytes(1) }]) })),
    ErrorCode.RANGE_OUT_OF_BOUNDS,
  ],
  ['applyBatch: a non-delta entry', () => bus.applyBatch([wrong(7)]), ErrorCode.INVALID_ARGUMENT],
  ['sparseFromBytes: offset past the page', () => sparseFromBytes(4, [[4, 1]]), ErrorCode.RANGE_OUT_OF_BOUNDS],
  ['sparseFromBytes: page size zero', () => sparseFromBytes(0, []), ErrorCode.INVALID_ARGUMENT],
  [
    'mergePayloads: payload of the wrong size',
    () => mergePayloads(SIZE, dense(bytes(SIZE)), dense(bytes(2))),
    ErrorCode.DELTA_SIZE_MISMATCH,
  ],
  ['mergePayloads: page size zero', () => mergePayloads(0, dense(bytes(0)), dense(bytes(0))), ErrorCode.PAGE_SIZE_INVALID],
  ['mergePayloads: page size not a number', () => mergePayloads(wrong('4'), dense(bytes(4)), dense(bytes(4))), ErrorCode.INVALID_ARGUMENT],
  ['addEdge: unknown page', () => bus.addEdge(page, 99), ErrorCode.PAGE_NOT_FOUND],
  ['addEdge: released page', () => bus.addEdge(released, page), ErrorCode.PAGE_RELEASED],
  ['addEdge: self-edge', () => bus.addEdge(page, page), ErrorCode.GRAPH_CYCLE],
  ['addEdge: duplicate edge', () => bus.addEdge(page, other), ErrorCode.EDGE_EXISTS],
  ['addEdge: kind not a known name', () => bus.addEdge(other, page, wrong('weak')), ErrorCode.INVALID_ARGUMENT],
  ['addEdge: a cycle', () => bus.addEdge(other, page), ErrorCode.GRAPH_CYCLE],
  ['addEdge: parent as string', () => bus.addEdge(wrong('1'), other), ErrorCode.INVALID_ARGUMENT],
  ['removeEdge: no such edge', () => bus.removeEdge(other, page), ErrorCode.EDGE_NOT_FOUND],
  ['removeEdge: released page', () => bus.removeEdge(released, page), ErrorCode.PAGE_RELEASED],
  ['parents: released page', () => bus.parents(released), ErrorCode.PAGE_RELEASED],
  ['children: unknown page', () => bus.children(99), ErrorCode.PAGE_NOT_FOUND],
  ['encodeBatch: payload missing', () => encodeBatch([wrong({ pageId: 1 })]), ErrorCode.INVALID_ARGUMENT],
];

/** Two valid deltas (epochs 1 → 3), then `last`: the batch must apply none. */
function batchWithLast(last: Delta): Delta[] {
  return [
    { pageId: page, payload: dense(bytes(SIZE, 1)), expectEpoch: 1 },
    { pageId: page, payload: sparseFromBytes(SIZE, [[0, 2]]), expectEpoch: 2 },
    last,
  ];
}

describe('bad input', () => {
  it.each(cases().map(([name]) => [name]))('%s: typed error, state unchanged', async (name) => {
    const [, call, code] = cases().find(([caseName]) => caseName === name)!;
    const hash = bus.stateHash();
    const view = Uint8Array.from(bus.view(page));
    const epoch = bus.page(page).epoch;
    await expectMmsbError(call, code);
    expect(bus.stateHash()).toBe(hash);
    expect(bus.view(page)).toEqual(view);
    expect(bus.page(page).epoch).toBe(epoch);
  });

  it('a closed bus refuses every call with BUS_CLOSED', async () => {
    await bus.close();
    await bus.close();
    await expectMmsbError(() => bus.stateHash(), ErrorCode.BUS_CLOSED);
    await expectMmsbError(() => bus.createPage({ size: 1 }), ErrorCode.BUS_CLOSED);
    await expectMmsbError(() => bus.apply({ pageId: page, payload: dense(bytes(SIZE)) }), ErrorCode.BUS_CLOSED);
    await expectMmsbError(() => bus.read(page), ErrorCode.BUS_CLOSED);
  });

  it('a failed create assigns no id', async () => {
    const next = bus.nextPageId;
    await expectMmsbError(() => bus.createPage({ size: 0 }), ErrorCode.PAGE_SIZE_INVALID);
    expect(bus.nextPageId).toBe(next);
    expect(await bus.createPage({ size: 1 })).toBe(next);
  });
});
