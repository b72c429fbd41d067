/**
 * The `mmsb` command line. Each command lives in its own module; this one
 * parses the arguments and turns errors into exit codes.
 */
import { parseArgs } from 'node:util';

import { MmsbError } from '../errors.js';
import { VERSION } from '../version.js';
import { runCheckpoint, runReplay } from './bus-commands.js';
import { runDemo } from './demo.js';
import { requireDirectory, runLog, runRepair, runVerify } from './directory.js';
import { runServeCommand } from './serve.js';
import { runStats } from './stats.js';
import { runStressCommand } from './stress.js';

const HELP = `mmsb ${VERSION}: the Memory-Mapped State Bus

Usage:
  mmsb serve [--data <dir>] [--endpoint <e>] [--pub <e>] [...]
                                 serve a bus to other processes over ZeroMQ (mmsb serve --help)
  mmsb demo                      create pages, apply every kind of delta, print the state hash
  mmsb log <dir> [--records]     segments, checkpoints and records of a data directory
  mmsb checkpoint <dir>          write a checkpoint now
  mmsb replay <dir> --to <lsn>   show the state as it was after record <lsn>
  mmsb verify <dir>              check every checksum, checkpoint hash, the replayed log and torn tails
  mmsb repair <dir>              back to the longest consistent history (what is cut is kept aside)
  mmsb stats <dir|url>           pages, log, checkpoints, recovery and latency percentiles, as tables
  mmsb stress [--seed <n>] [--duration <d>] [--data <dir>]
                                 a seeded mixed workload with invariants checked as it runs (mmsb stress --help)
  mmsb --version                 print the version
  mmsb --help                    print this help

Exit codes: 0 success, 1 an MMSB error (its code is printed) or a failed verify, 2 a usage error.
`;

/** Writes to stdout; the CLI's only output channel besides stderr. */
export type Print = (line: string) => void;

function usage(message: string): number {
  process.stderr.write(`mmsb: ${message}\n\n${HELP}`);
  return 2;
}

/** Runs the CLI and returns its exit code. */
export async function main(argv: readonly string[], print: Print = (line) => process.stdout.write(`${line}\n`)): Promise<number> {
  if (argv[0] === 'serve') return reportErrors(() => runServeCommand(argv.slice(1), print));
  if (argv[0] === 'stress') return reportErrors(() => runStressCommand(argv.slice(1), print));
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        records: { type: 'boolean' },
        to: { type: 'string' },
      },
    });
  } catch (error) {
    return usage((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.version) {
    print(VERSION);
    return 0;
  }
  const [command, directory, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') {
    print(HELP.trimEnd());
    return 0;
  }
  if (rest.length > 0) return usage(`unexpected arguments ${JSON.stringify(rest.join(' '))}`);
  return reportErrors(async () => {
    switch (command) {
      case 'demo':
        if (directory !== undefined) return usage('demo takes no directory');
        await runDemo(print);
        return 0;
      case 'log':
        runLog(requireDirectory(directory), values.records === true, print);
        return 0;
      case 'checkpoint':
        await runCheckpoint(requireDirectory(directory), print);
        return 0;
      case 'replay':
        await runReplay(requireDirectory(directory), values.to, print);
        return 0;
      case 'verify':
        return runVerify(requireDirectory(directory), print) === 0 ? 0 : 1;
      case 'repair':
        runRepair(requireDirectory(directory), print);
        return 0;
      case 'stats':
        await runStats(requireDirectory(directory), print);
        return 0;
      default:
        return usage(`unknown command ${JSON.stringify(command)}`);
    }
  });
}

/** Runs a command: an MmsbError is exit code 1 with its code printed, a bad option a usage error. */
async function reportErrors(command: () => Promise<number>): Promise<number> {
  try {
    return await command();
  } catch (error) {
    if (error instanceof MmsbError) {
      process.stderr.write(`mmsb: ${error.code}: ${error.message}\n`);
      return 1;
    }
    if (String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')) return usage((error as Error).message);
    throw error;
  }
}
