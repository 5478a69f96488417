/**
 * Medians and spreads of repeated measurements, and the fixed-width table the
 * benchmark prints. Nothing here asserts a time: machines are noisy.
 */

/** The repeated measurements of one case. */
export interface Sample {
  readonly wallMs: number[];
  /** The largest peak RSS of any process the case ran, per run, in kB. */
  readonly maxRssKb: number[];
}

/** An empty sample to push runs into. */
export function createSample(): Sample {
  return { wallMs: [], maxRssKb: [] };
}

/** The median of a list (the mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] ?? Number.NaN;
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] ?? upper) + upper) / 2;
}

/** min–max of a list. */
export function spread(values: readonly number[]): { min: number; max: number } {
  return { min: Math.min(...values), max: Math.max(...values) };
}

/** "1234 ms (1100–1500)". */
export function formatMs(values: readonly number[]): string {
  if (values.length === 0) return 'n/a';
  const { min, max } = spread(values);
  return `${formatNumber(median(values))} ms (${formatNumber(min)}–${formatNumber(max)})`;
}

/** The largest peak RSS across runs, in MB. */
export function formatRss(values: readonly number[]): string {
  if (values.length === 0) return 'n/a';
  return `${(Math.max(...values) / 1024).toFixed(1)} MB`;
}

/** Whole numbers from 100 up, one decimal below. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(1);
}

/** Renders rows as a Markdown table, columns padded for the terminal. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]) => `| ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
