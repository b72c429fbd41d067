/** Text output of the CLI: aligned tables, byte sizes and a progress bar. */

/** Formats a byte count with binary units: 1536 → "1.5 KiB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

export function formatCount(count: number): string {
  return count.toLocaleString('en');
}

/**
 * Lays out rows under headers, columns separated by two spaces. Columns whose
 * header is listed in `rightAligned` are aligned right (numbers).
 */
export function table(headers: readonly string[], rows: readonly (readonly string[])[], rightAligned: readonly string[] = []): string[] {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => (rightAligned.includes(headers[column]!) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)];
}

/** A progress bar on stderr, drawn only when stderr is a terminal. */
export class Progress {
  readonly #label: string;
  readonly #total: number;
  readonly #enabled: boolean;
  #done = 0;

  constructor(label: string, total: number, stream: NodeJS.WriteStream = process.stderr) {
    this.#label = label;
    this.#total = total;
    this.#enabled = stream.isTTY === true && total > 1;
  }

  tick(): void {
    this.#done++;
    if (!this.#enabled) return;
    const width = 30;
    const filled = Math.round((this.#done / this.#total) * width);
    process.stderr.write(`\r${this.#label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${this.#done}/${this.#total}`);
    if (this.#done === this.#total) process.stderr.write('\n');
  }
}
