/**
 * The `mmsb` command line. Each command lives in its own module; this one
 * parses the arguments and turns errors into exit codes.
 */
import { parseArgs } from 'node:util';

import { MmsbError } from '../errors.js';
import { VERSION } from '../version.js';
import { runDemo } from './demo.js';

const HELP = `mmsb ${VERSION}: the Memory-Mapped State Bus

Usage:
  mmsb demo            create pages, apply every kind of delta, print the state hash
  mmsb --version       print the version
  mmsb --help          print this help

Exit codes: 0 success, 1 an MMSB error (its code is printed), 2 a usage error.
`;

/** Writes to stdout; the CLI's only output channel besides stderr. */
export type Print = (line: string) => void;

/** Runs the CLI and returns its exit code. */
export async function main(argv: readonly string[], print: Print = (line) => process.stdout.write(`${line}\n`)): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
    });
  } catch (error) {
    process.stderr.write(`mmsb: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    print(VERSION);
    return 0;
  }
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') {
    print(HELP.trimEnd());
    return 0;
  }
  if (command !== 'demo' || rest.length > 0) {
    process.stderr.write(`mmsb: unknown command ${JSON.stringify(positionals.join(' '))}\n\n${HELP}`);
    return 2;
  }
  try {
    await runDemo(print);
    return 0;
  } catch (error) {
    if (error instanceof MmsbError) {
      process.stderr.write(`mmsb: ${error.code}: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
