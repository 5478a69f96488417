import { describe, expect, it } from 'vitest';
import { importCloudStack } from '../../src/cloudstack/import.js';
import { readFixture } from '../support/cloudstack-fixtures.js';
import { freshSeed, readSeed, seededRandom } from '../support/seed.js';

/**
 * Hostile databags: the fixtures with values replaced at random by values of
 * other types and shapes. The translation must answer every one with a
 * state or with errors that name a databag file, and never throw.
 */

const ODD_VALUES: unknown[] = [null, true, false, 0, -1, 1.5, 1e300, '', ' ', 'x', '::', '0.0.0.0/0', '2001:db8::/56', '2001:db8::zz', 'fe80::1', [], [1], {}, { id: 1 }, '10.0.0.1,::/0', -129, 65536, 'true', '64', 'icmp', 'protocol', 'Ingress'];

function mutate(value: unknown, random: () => number): unknown {
  if (Array.isArray(value)) return value.map((item) => (random() < 0.1 ? pick(random) : mutate(item, random)));
  if (value === null || typeof value !== 'object') return random() < 0.15 ? pick(random) : value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .filter(() => random() > 0.03)
      .map(([key, item]) => [key, random() < 0.08 ? pick(random) : mutate(item, random)]),
  );
}

function pick(random: () => number): unknown {
  return ODD_VALUES[Math.floor(random() * ODD_VALUES.length)];
}

describe('hostile databags', () => {
  it('give a state or errors naming a databag, never an exception', () => {
    const seed = readSeed(freshSeed);
    console.log(`cloudstack-hostile SEED=${seed}`);
    const random = seededRandom(seed);
    let accepted = 0;
    for (let i = 0; i < 400; i++) {
      const bags = readFixture(i % 2 === 0 ? 'vpc' : 'isolated');
      const hostile = Object.fromEntries(Object.entries(bags).map(([name, bag]) => [name, random() < 0.5 ? mutate(bag, random) : bag]));
      const result = importCloudStack(hostile);
      if (result.ok) accepted++;
      else for (const error of result.errors) expect(error.path).toMatch(/^(cmdline|ips|guestnetwork|networkacl|ipv6firewallrules|bgppeers|staticroutes)\.json: \$/);
    }
    // Both outcomes must occur, or the campaign tests nothing.
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(400);
  });
});
