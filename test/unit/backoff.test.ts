import { describe, expect, it } from 'vitest';
import { computeBackoffMs } from '../../src/transport/management-client.js';

const almostOne = () => 1 - Number.EPSILON;

describe('computeBackoffMs', () => {
  it('doubles the ceiling with every attempt', () => {
    expect([0, 1, 2, 3, 4].map((attempt) => computeBackoffMs(attempt, 100, 60_000, almostOne))).toEqual([99, 199, 399, 799, 1599]);
  });

  it('never exceeds the cap, however many attempts', () => {
    for (const attempt of [10, 20, 53, 1000, Number.MAX_SAFE_INTEGER, Infinity]) {
      expect(computeBackoffMs(attempt, 1000, 60_000, almostOne)).toBe(59_999);
    }
  });

  it('draws full jitter between 0 and the ceiling', () => {
    expect(computeBackoffMs(3, 100, 60_000, () => 0)).toBe(0);
    expect(computeBackoffMs(3, 100, 60_000, () => 0.5)).toBe(400);
    for (let i = 0; i < 1000; i += 1) {
      const delay = computeBackoffMs(i % 12, 50, 5_000, Math.random);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(Math.min(5_000, 50 * 2 ** (i % 12)));
    }
  });

  it('caps even when the initial delay is above the cap', () => {
    expect(computeBackoffMs(0, 10_000, 1_000, almostOne)).toBe(999);
  });

  it('tolerates odd inputs without NaN or negative delays', () => {
    expect(computeBackoffMs(-3, 100, 1_000, almostOne)).toBe(99);
    expect(computeBackoffMs(Number.NaN, 100, 1_000, almostOne)).toBe(99);
    expect(computeBackoffMs(1000, 0, 1_000, almostOne)).toBe(0);
    expect(computeBackoffMs(2, 100, 1_000, () => 7)).toBe(400);
    expect(computeBackoffMs(2, 100, 1_000, () => -1)).toBe(0);
  });
});
