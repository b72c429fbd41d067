/** The run's summary: as JSON (`--json`, `--report`) and as text. */
import { cpus, hostname, totalmem } from 'node:os';

import { VERSION } from '@mmsb/bus';

import { formatDuration } from './durations.js';
import { INVARIANTS, type Invariant, type Violation } from './invariants.js';
import type { MemoryWatch } from './memory.js';
import type { ResourceCounts, ResourceWatch } from './resources.js';
import type { Tally } from './tally.js';

export interface StressReport {
  readonly version: string;
  readonly seed: number;
  readonly duration: string;
  readonly durationMs: number;
  /** True while the run goes on (the report file is rewritten at every progress line). */
  readonly running: boolean;
  readonly stoppedBy: string | undefined;
  readonly elapsedMs: number;
  readonly reproduce: string;
  readonly plant: string | undefined;
  readonly startedAt: string;
  readonly machine: {
    readonly host: string;
    readonly cpus: number;
    readonly cpuModel: string;
    readonly memoryBytes: number;
    readonly node: string;
  };
  readonly operationsPerSecond: number;
  readonly counts: Readonly<Tally>;
  readonly memory: {
    readonly peakRssBytes: number;
    readonly baselineRssBytes: number;
    readonly boundRssBytes: number | undefined;
    readonly warmupMs: number;
  };
  readonly resources: {
    readonly peak: ResourceCounts;
    readonly baseline: ResourceCounts;
    readonly bound: ResourceCounts | undefined;
  };
  readonly invariants: Readonly<Record<Invariant, string>>;
  readonly violations: number;
  readonly violationsByInvariant: Readonly<Partial<Record<Invariant, number>>>;
  /** The first violations in full. */
  readonly violationDetails: readonly Violation[];
  readonly dataDirectory: string;
  /** Data directories of failed generations, kept for inspection. */
  readonly keptDirectories: readonly string[];
}

export interface ReportInput {
  readonly seed: number;
  readonly duration: string;
  readonly durationMs: number;
  readonly running: boolean;
  readonly stoppedBy: string | undefined;
  readonly started: number;
  readonly reproduce: string;
  readonly plant: string | undefined;
  readonly tally: Tally;
  readonly memory: MemoryWatch;
  readonly resources: ResourceWatch;
  readonly violations: {
    readonly count: number;
    readonly byInvariant: ReadonlyMap<Invariant, number>;
    readonly kept: readonly Violation[];
  };
  readonly dataDirectory: string;
  readonly keptDirectories: readonly string[];
}

export function buildReport(input: ReportInput): StressReport {
  const elapsedMs = Date.now() - input.started;
  const processor = cpus();
  return {
    version: VERSION,
    seed: input.seed,
    duration: input.duration,
    durationMs: input.durationMs,
    running: input.running,
    stoppedBy: input.stoppedBy,
    elapsedMs,
    reproduce: input.reproduce,
    plant: input.plant,
    startedAt: new Date(input.started).toISOString(),
    machine: {
      host: hostname(),
      cpus: processor.length,
      cpuModel: processor[0]?.model ?? 'unknown',
      memoryBytes: totalmem(),
      node: process.version,
    },
    operationsPerSecond: Math.round(input.tally.operations / Math.max(1, elapsedMs / 1000)),
    counts: { ...input.tally },
    memory: {
      peakRssBytes: input.memory.peakBytes,
      baselineRssBytes: input.memory.baselineBytes,
      boundRssBytes: input.memory.boundBytes,
      warmupMs: input.memory.warmupMs,
    },
    resources: { peak: input.resources.peak, baseline: input.resources.baseline, bound: input.resources.bound },
    invariants: INVARIANTS,
    violations: input.violations.count,
    violationsByInvariant: Object.fromEntries(input.violations.byInvariant),
    violationDetails: input.violations.kept,
    dataDirectory: input.dataDirectory,
    keptDirectories: input.keptDirectories,
  };
}

const count = (value: number): string => value.toLocaleString('en-US');
const mib = (bytes: number): string => `${count(Math.round(bytes / (1024 * 1024)))} MiB`;

/** The summary as lines of text. */
export function summaryLines(report: StressReport): string[] {
  const { counts, memory } = report;
  const bound = memory.boundRssBytes === undefined ? 'no bound yet: the run ended in its warm-up' : `bound ${mib(memory.boundRssBytes)}`;
  const lines = [
    `stress: seed ${report.seed}, ran ${formatDuration(report.elapsedMs)} (${report.stoppedBy ?? 'running'})`,
    `  operations          ${count(counts.operations)} (${count(report.operationsPerSecond)}/s): ${count(counts.deltas)} deltas, ` +
      `${count(counts.batches)} batches, ${count(counts.childOperations)} by child writers`,
    `  crashes survived    ${count(counts.kills)} SIGKILLs of a child writer, ${count(counts.recoveries)} recoveries checked ` +
      `(${count(counts.tornTails)} torn tails cut)`,
    `  checkpoints         ${count(counts.checkpoints)} (full and incremental), ${count(counts.waves)} propagation waves`,
    `  checks              ${count(counts.replayChecks)} replay = live, ${count(counts.timeTravelReads)} time-travel reads, ` +
      `${count(counts.reopens)} reopens, ${count(counts.refusals)} bad operations refused`,
    `  bridge              ${count(counts.bridgeSessions)} sessions (${count(counts.bridgeAbandoned)} abandoned), ` +
      `${count(counts.handleChecks)} handle balance checks`,
    `  data directories    ${count(counts.generations)} generations, largest ${mib(counts.diskBytesPeak)}`,
    `  peak RSS            ${mib(memory.peakRssBytes)} (baseline ${mib(memory.baselineRssBytes)}, ${bound})`,
    `  peak descriptors    ${count(report.resources.peak.descriptors)} open files, ${count(report.resources.peak.mappings)} mappings ` +
      `(baseline ${count(report.resources.baseline.descriptors)} and ${count(report.resources.baseline.mappings)})`,
    `  violations          ${count(report.violations)}`,
  ];
  for (const violation of report.violationDetails) {
    lines.push(`    ${formatDuration(violation.atMs)} ${violation.part}: ${violation.invariant}: ${violation.detail}`);
  }
  if (report.violations > report.violationDetails.length)
    lines.push(`    … and ${report.violations - report.violationDetails.length} more`);
  for (const directory of report.keptDirectories) lines.push(`  kept for inspection: ${directory}`);
  lines.push(`reproduce: ${report.reproduce}`);
  return lines;
}
