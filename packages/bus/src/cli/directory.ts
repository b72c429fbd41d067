/**
 * `mmsb log`, `mmsb verify` and `mmsb repair`: reading and mending a data
 * directory with the native inspection functions, without opening a bus.
 */
import { ErrorCode, MmsbError } from '../errors.js';
import { enableCudaFallback } from '../cuda.js';
import { call, nativeAddon } from '../native.js';
import { formatBytes, formatCount, Progress, table } from './format.js';
import type { Print } from './main.js';

function listing(directory: string) {
  return call(() => nativeAddon().inspectDirectory(directory));
}

/** `mmsb log <dir> [--records]`: segments, checkpoints and records by kind. */
export function runLog(directory: string, withRecords: boolean, print: Print): void {
  const { segments, checkpoints } = listing(directory);
  const progress = new Progress('scanning', segments.length);
  const byKind = new Map<string, { records: number; bytes: number }>();
  const segmentRows: string[][] = [];
  const recordRows: string[][] = [];
  let firstLsn: number | undefined;
  let lastLsn: number | undefined;
  segments.forEach((segment, index) => {
    const scanned = call(() => nativeAddon().scanSegment(segment.path, segment.lsn, index === segments.length - 1));
    progress.tick();
    for (const record of scanned.records) {
      const entry = byKind.get(record.kind) ?? { records: 0, bytes: 0 };
      entry.records++;
      entry.bytes += record.bodyBytes;
      byKind.set(record.kind, entry);
      firstLsn ??= record.lsn;
      lastLsn = record.lsn;
      if (withRecords)
        recordRows.push([String(record.lsn), record.kind, segment.name, String(record.offset), formatBytes(record.bodyBytes)]);
    }
    const status = scanned.tornBytes > 0 ? `torn tail of ${formatBytes(scanned.tornBytes)}` : 'ok';
    segmentRows.push([segment.name, String(segment.lsn), formatCount(scanned.records.length), formatBytes(segment.bytes), status]);
  });
  print(`Data directory ${directory}`);
  print('');
  print('Segments');
  table(['segment', 'first LSN', 'records', 'size', 'status'], segmentRows, ['first LSN', 'records', 'size']).forEach((line) =>
    print(`  ${line}`),
  );
  print('');
  print('Checkpoints');
  const checkpointRows = checkpoints.map((checkpoint) => [checkpoint.name, String(checkpoint.lsn), formatBytes(checkpoint.bytes)]);
  table(['checkpoint', 'LSN', 'size'], checkpointRows, ['LSN', 'size']).forEach((line) => print(`  ${line}`));
  print('');
  print('Records by kind');
  const kindRows = [...byKind].map(([kind, { records, bytes }]) => [kind, formatCount(records), formatBytes(bytes)]);
  table(['kind', 'records', 'body bytes'], kindRows, ['records', 'body bytes']).forEach((line) => print(`  ${line}`));
  print('');
  const total = [...byKind.values()].reduce((sum, entry) => sum + entry.records, 0);
  print(firstLsn === undefined ? 'The log holds no records.' : `${formatCount(total)} records, LSN ${firstLsn} to ${lastLsn}.`);
  if (withRecords) {
    print('');
    table(['LSN', 'kind', 'segment', 'offset', 'body'], recordRows, ['LSN', 'offset', 'body']).forEach((line) => print(`  ${line}`));
  }
}

/**
 * `mmsb verify <dir>`: every record checksum, every checkpoint's data against
 * its stored hash, the replayed log against every checkpoint it reaches, and
 * recovery's cross-checks (a sealed newest segment, a log that ends before a
 * checkpoint, checkpoints without a log). A torn tail is a problem (the next
 * open cuts it into a salvage file; strict recovery refuses it); salvage
 * files already kept are listed. Returns the number of problems found.
 */
export function runVerify(directory: string, print: Print): number {
  // Verifying reads bytes only: without CUDA, device pages are checked in heap memory.
  enableCudaFallback();
  const { segments, checkpoints } = listing(directory);
  const progress = new Progress('verifying', segments.length + checkpoints.length + 1);
  const problems: string[] = [];
  let records = 0;
  segments.forEach((segment, index) => {
    try {
      const scanned = call(() => nativeAddon().scanSegment(segment.path, segment.lsn, index === segments.length - 1));
      records += scanned.records.length;
    } catch (error) {
      problems.push(`${segment.name}: ${(error as MmsbError).code}: ${(error as MmsbError).message}`);
    }
    progress.tick();
  });
  print(`log: ${segments.length} segments, ${formatCount(records)} records, every checksum checked`);
  for (const checkpoint of checkpoints) {
    try {
      const check = call(() => nativeAddon().checkCheckpoint(directory, checkpoint.lsn));
      const same = check.storedHash === check.computedHash;
      const kind = check.baseLsn === 0 ? 'full' : `incremental on LSN ${check.baseLsn}`;
      print(`checkpoint LSN ${check.lsn} (${kind}): ${formatCount(check.pages)} pages, hash ${same ? 'matches' : 'DIFFERS'}`);
      if (!same) problems.push(`${checkpoint.name}: stored hash ${check.storedHash}, data hashes to ${check.computedHash}`);
    } catch (error) {
      problems.push(`${checkpoint.name}: ${(error as MmsbError).code}: ${(error as MmsbError).message}`);
    }
    progress.tick();
  }
  try {
    const history = call(() => nativeAddon().checkHistory(directory));
    for (const checkpoint of history.checkpoints) {
      const same = checkpoint.storedHash === checkpoint.replayedHash;
      print(`replayed log at LSN ${checkpoint.lsn}: ${same ? 'matches' : 'DIFFERS from'} the checkpoint`);
      if (!same)
        problems.push(`replay to LSN ${checkpoint.lsn} hashes to ${checkpoint.replayedHash}, checkpoint says ${checkpoint.storedHash}`);
    }
    print(`state at LSN ${history.lastLsn}: ${formatCount(history.livePages)} pages, hash ${history.stateHash}`);
    const torn = history.tornTail;
    if (torn !== undefined && torn !== null) {
      problems.push(
        `${torn.segment}: torn tail of ${formatBytes(torn.bytes)} at offset ${torn.offset} ` +
          '(an interrupted write or damaged last records): the next open cuts it into a salvage file; ' +
          'strict recovery refuses to open',
      );
    }
    problems.push(...history.problems);
    for (const file of history.salvageFiles) print(`salvage file kept: ${file}`);
  } catch (error) {
    problems.push(`replay: ${(error as MmsbError).code}: ${(error as MmsbError).message}`);
  }
  progress.tick();
  for (const problem of problems) print(`PROBLEM ${problem}`);
  print(problems.length === 0 ? 'verify: everything checks out' : `verify: ${problems.length} problem(s)`);
  return problems.length;
}

/**
 * `mmsb repair <dir>`: brings a directory that does not open back to the
 * longest consistent history it holds, keeping every byte it cuts aside, or
 * says why it cannot (changing nothing).
 */
export function runRepair(directory: string, print: Print): void {
  const report = call(() => nativeAddon().repairDirectory(directory));
  const salvaged = report.salvageDirectory !== undefined && report.salvageDirectory !== null;
  const written = report.checkpointWritten !== undefined && report.checkpointWritten !== null;
  if (!salvaged && !written) {
    print(`repair: the directory opens cleanly at LSN ${report.lastLsn}; nothing was changed`);
    return;
  }
  if (report.cutSegment !== undefined && report.cutSegment !== null) {
    print(`repair: cut ${report.cutSegment} at offset ${report.cutOffset} (after its last valid record)`);
  }
  if (written) {
    print(`repair: wrote a full checkpoint at LSN ${report.checkpointWritten} in place of a lost one`);
  }
  print(`repair: the directory now opens at LSN ${report.lastLsn}`);
  if (salvaged) {
    print(
      `repair: ${report.keptAside.length} file(s), as they were, are kept in ${report.salvageDirectory}: ${report.keptAside.join(', ')}`,
    );
  }
}

export function requireDirectory(directory: string | undefined): string {
  if (directory === undefined) throw new MmsbError(ErrorCode.INVALID_ARGUMENT, 'this command needs a data directory');
  return directory;
}
