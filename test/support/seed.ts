import { createRandom } from '../../bench/policy.js';

/**
 * The seed of a seeded run: SEED when set, else `fallback()`. One variable
 * for every seeded test and campaign (the reconciler's random walk, the
 * firewall fuzz, the soak campaigns), each of which prints the seed it used,
 * so `SEED=<printed seed>` replays that run.
 */
export function readSeed(fallback: () => number): number {
  const text = process.env.SEED;
  if (text === undefined || text === '') return fallback();
  const seed = Number(text);
  if (!Number.isInteger(seed)) throw new Error(`SEED=${text} is not a whole number`);
  return seed >>> 0;
}

/** A different seed each run, for runs that explore; they print it so that it can be replayed. */
export function freshSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}

/** A seeded PRNG (mulberry32, shared with the benchmark): the same seed gives the same run. */
export const seededRandom = createRandom;
