// Style is a test: banned patterns and line length in library code, checked
// with the ordinary test command rather than by review.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const LINE_CHARS_MAX = 140;
const skipped = new Set(['node_modules', 'target', 'dist', '.git', '.nx', '.venv']);

function filesUnder(directory: string, extension: string): string[] {
  return readdirSync(directory).flatMap((name) => {
    if (skipped.has(name)) return [];
    const path = join(directory, name);
    if (statSync(path).isDirectory()) return filesUnder(path, extension);
    return path.endsWith(extension) ? [path] : [];
  });
}

/** Library sources: what ships, excluding tests, generated files and tools. */
const tsLibrary = filesUnder(join(root, 'packages'), '.ts').filter((path) => path.includes('/src/') && !path.endsWith('.d.ts'));
const rustLibrary = filesUnder(join(root, 'packages'), '.rs').filter((path) => path.includes('/src/'));
/** MMSB.jl's library code: its module and its package extensions. */
const juliaLibrary = filesUnder(join(root, 'julia'), '.jl').filter((path) => /\/MMSB\.jl\/(src|ext)\//.test(path));
const allSources = [
  ...filesUnder(join(root, 'packages'), '.ts'),
  ...filesUnder(join(root, 'packages'), '.rs'),
  ...filesUnder(join(root, 'tools'), '.ts'),
  ...filesUnder(join(root, 'julia'), '.jl'),
];

/** Code before the first `#[cfg(test)]`: unit-test modules may unwrap. */
function nonTestRust(source: string): string {
  const index = source.indexOf('#[cfg(test)]');
  return index === -1 ? source : source.slice(0, index);
}

function offenders(files: string[], pattern: RegExp, select: (source: string) => string = (source) => source): string[] {
  return files.filter((path) => pattern.test(select(readFileSync(path, 'utf8')))).map((path) => relative(root, path));
}

describe('tidy', () => {
  it('finds the sources it checks', () => {
    expect(tsLibrary.length).toBeGreaterThan(5);
    expect(rustLibrary.length).toBeGreaterThan(5);
    expect(juliaLibrary.length).toBeGreaterThan(5);
  });

  it('library TypeScript has no console calls or debugger statements', () => {
    expect(offenders(tsLibrary, /\bconsole\.\w+\(|\bdebugger\b/)).toEqual([]);
  });

  it('library Rust has no debug prints, dbg!, todo! or unwrap() outside tests', () => {
    expect(offenders(rustLibrary, /\b(println|eprintln|dbg|todo|unimplemented)!|\.unwrap\(\)/, nonTestRust)).toEqual([]);
  });

  it('library Julia has no prints, @show or display', () => {
    expect(offenders(juliaLibrary, /\b(println|print|display)\((?!io\b)|@show\b/)).toEqual([]);
  });

  it(`no source line is longer than ${LINE_CHARS_MAX} characters`, () => {
    const long = allSources.flatMap((path) =>
      readFileSync(path, 'utf8')
        .split('\n')
        .flatMap((line, index) => (line.length > LINE_CHARS_MAX ? [`${relative(root, path)}:${index + 1}`] : [])),
    );
    expect(long).toEqual([]);
  });

  it('the checks can fail: a planted console call is found', () => {
    expect(/\bconsole\.\w+\(/.test('export const x = 1;\nconsole.log(x);')).toBe(true);
  });
});
