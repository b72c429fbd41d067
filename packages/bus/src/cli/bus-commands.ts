/** `mmsb checkpoint` and `mmsb replay`: commands that open a bus on a directory. */
import { Bus } from '../bus.js';
import { ErrorCode, MmsbError } from '../errors.js';
import { formatBytes, formatCount, table } from './format.js';
import type { Print } from './main.js';

const PAGES_SHOWN_MAX = 20;

/** `mmsb checkpoint <dir>`: writes a full checkpoint now. */
export async function runCheckpoint(directory: string, print: Print): Promise<void> {
  const bus = await Bus.open(directory);
  try {
    const info = await bus.checkpoint({ full: true });
    print(`checkpoint at LSN ${info.lsn}: ${formatCount(info.pages)} pages, ${formatBytes(info.bytes)}`);
    print(`  ${info.path}`);
    print(`  state hash ${info.stateHash}`);
  } finally {
    await bus.close();
  }
}

/** `mmsb replay <dir> --to <lsn>`: the state as it was after record `lsn`. */
export async function runReplay(directory: string, to: string | undefined, print: Print): Promise<void> {
  const lsn = Number(to);
  if (to === undefined || !Number.isSafeInteger(lsn) || lsn < 0) {
    throw new MmsbError(ErrorCode.INVALID_ARGUMENT, `--to needs an LSN (a non-negative integer), got ${String(to)}`);
  }
  const bus = await Bus.open(directory);
  try {
    const view = await bus.stateAt(lsn);
    print(`state at LSN ${lsn} (the log holds LSN ${bus.oldestLsn} to ${bus.lsn}):`);
    print(`  ${formatCount(view.livePageCount)} live pages, next page id ${view.nextPageId}`);
    print(`  state hash ${view.stateHash()}`);
    const rows: string[][] = [];
    for (let id = 1; id < view.nextPageId && rows.length < PAGES_SHOWN_MAX; id++) {
      try {
        const page = view.page(id);
        rows.push([String(id), formatBytes(page.size), page.location, String(page.epoch)]);
      } catch (error) {
        if (!(error instanceof MmsbError) || error.code !== ErrorCode.PAGE_RELEASED) throw error;
      }
    }
    if (rows.length > 0) {
      print('');
      table(['page', 'size', 'location', 'epoch'], rows, ['page', 'size', 'epoch']).forEach((line) => print(`  ${line}`));
      if (view.livePageCount > rows.length) print(`  … and ${formatCount(view.livePageCount - rows.length)} more`);
    }
  } finally {
    await bus.close();
  }
}
