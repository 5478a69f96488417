import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * What every campaign of `make soak` shares: its trial count and the one
 * line of figures it prints (docs/reliability.md lists them).
 *
 *   make soak                      # CI: SOAK_TRIALS unset, each campaign runs its small default
 *   SOAK_TRIALS=100 npx vitest run --config vitest.soak.config.ts test/soak/<campaign>.soak.ts
 *                                  # a manual run of one campaign; the count is in its own unit
 */

/** The number of trials: SOAK_TRIALS when set, else the campaign's small CI default. */
export function trialCount(ciDefault: number): number {
  const text = process.env.SOAK_TRIALS;
  if (text === undefined || text === '') return ciDefault;
  const count = Number(text);
  if (!Number.isInteger(count) || count < 1) throw new Error(`SOAK_TRIALS=${text} is not a positive whole number`);
  return count;
}

const FIGURES_FILE = process.env.SOAK_FIGURES ?? 'dist/soak-figures.txt';

/**
 * Prints a campaign's figures as one line, e.g.
 * `SOAK crash-safety: 100 trials, 100 converged, 0 lost, 0 fail-open (seed 42, 312 s)`,
 * and appends it to dist/soak-figures.txt, which `make soak` prints at the end.
 */
export function reportFigures(campaign: string, figures: Record<string, number | string>, detail = ''): string {
  const parts = Object.entries(figures).map(([name, value]) => `${value} ${name}`);
  const line = `SOAK ${campaign}: ${parts.join(', ')}${detail ? ` (${detail})` : ''}`;
  console.log(line);
  mkdirSync(dirname(FIGURES_FILE), { recursive: true });
  appendFileSync(FIGURES_FILE, `${line}\n`);
  return line;
}
