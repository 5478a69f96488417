import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { renderRuleset } from '../../src/render/ruleset.js';
import { renderRulesetDocument } from '../../src/render/ruleset-document.js';
import { DesiredState } from '../../src/schema/desired-state.js';
import { parseWith } from '../../src/schema/validation.js';
import { freshSeed, readSeed } from '../support/seed.js';
import { canRunLab } from './lab-guard.js';

/**
 * Fuzzes the firewall part of the desired state: every state the schema
 * accepts must render a ruleset that the real `nft -j -c` accepts, and every
 * refusal must name its fields. Set SEED and FUZZ_RUNS to reproduce or go
 * further; the seed is printed.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 120);
const SEED = readSeed(freshSeed);
const work = mkdtempSync(join(tmpdir(), 'vr6-fuzz-'));

/** Mostly valid values, now and then one the schema must refuse. */
const mostly = <T, U>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<U>) =>
  fc.oneof({ arbitrary: valid, weight: 60 }, { arbitrary: invalid, weight: 1 });

const hex = fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16));
const address = fc.tuple(hex, hex, hex, hex).map(([a, b, c, d]) => `2001:db8:${a}:${b}::${c}:${d}`);
const cidr = mostly(
  fc.oneof(fc.constant('::/0'), fc.tuple(address, fc.integer({ min: 0, max: 128 })).map(([a, len]) => `${a}/${len}`)),
  fc.constantFrom('2001:db8::1/129', '10.0.0.0/8', 'fe80::1%eth0/64', 'example.com', '::ffff:192.0.2.1/128', '2001:db8::/48 '),
);
const port = mostly(fc.integer({ min: 0, max: 65535 }), fc.constantFrom(-1, 65536, 1.5));
const portRange = fc.tuple(port, port).map(([a, b]) => (typeof a === 'number' && typeof b === 'number' && a > b ? { start: b, end: a } : { start: a, end: b }));
const icmp = fc.record({ type: fc.integer({ min: 0, max: 255 }), code: mostly(fc.integer({ min: 0, max: 255 }), fc.constant(256)) }, { requiredKeys: ['type'] });
const cidrs = fc.array(cidr, { minLength: 1, maxLength: 4 });
const match = mostly(
  fc.oneof(
    fc.record({ protocol: fc.constantFrom('tcp', 'udp'), ports: portRange, cidrs }, { requiredKeys: ['protocol'] }),
    fc.record({ protocol: fc.constant('icmpv6'), icmp, cidrs }, { requiredKeys: ['protocol'] }),
    fc.record({ protocol: fc.oneof(fc.constant('all'), fc.integer({ min: 2, max: 255 })), cidrs }, { requiredKeys: ['protocol'] }),
  ),
  fc.constantFrom({ protocol: 'icmp' }, { protocol: 1 }, { protocol: 'icmpv6', ports: { start: 1, end: 2 } }, { protocol: 'tcp', icmp: { type: 1 } }),
);
const aclItems = fc
  .uniqueArray(fc.integer({ min: 1, max: 400 }), { maxLength: 10 })
  .chain((numbers) =>
    fc.tuple(...numbers.map((number) =>
      fc.tuple(match, mostly(fc.constantFrom('allow', 'deny'), fc.constant('reject')), fc.constantFrom('ingress', 'egress'))
        .map(([m, action, direction]) => ({ ...m, number, action, direction })),
    )),
  );
const services = fc.array(fc.record({ protocol: mostly(fc.constantFrom('tcp', 'udp'), fc.constant('sctp')), port }), { maxLength: 3 });
const tier = (index: number) =>
  fc.record({
    id: fc.constant(`tier-${index}`),
    interface: mostly(fc.constant(`eth${index + 2}`), fc.constantFrom('eth1', 'bad name', 'eth2')),
    prefix: mostly(fc.constant(`2001:db8:${index + 1}::/64`), fc.constantFrom('2001:db8:1::/64', `2001:db8:${index}::/56`)),
    aclId: mostly(fc.constantFrom('acl-0', 'acl-1'), fc.constant('acl-9')),
    vrServices: services,
    routedPrefixes: fc.array(mostly(fc.constant(`2001:db8:${index + 1}:100::/56`), cidr), { maxLength: 2 }),
  });
const vpcState = fc
  .tuple(fc.integer({ min: 1, max: 3 }), fc.tuple(aclItems, aclItems), fc.constantFrom('allow', 'deny'))
  .chain(([count, lists, defaultEgress]) =>
    fc.tuple(fc.tuple(...Array.from({ length: count }, (_, i) => tier(i))), fc.constant(lists), fc.constant(defaultEgress)),
  )
  .map(([tiers, lists, defaultEgress]) => ({
    schemaVersion: 1,
    router: { id: 'r-fuzz', kind: 'vpc' },
    public: { interface: 'eth1' },
    guestNetworks: tiers,
    aclLists: lists.map((items, i) => ({ id: `acl-${i}`, defaultEgress, items })),
  }));
const isolatedState = fc
  .record({ defaultEgress: fc.constantFrom('allow', 'deny'), ingress: fc.array(match, { maxLength: 8 }), egress: fc.array(match, { maxLength: 8 }) })
  .map((firewall) => ({
    schemaVersion: 1,
    router: { id: 'r-fuzz', kind: 'isolated' },
    public: { interface: 'eth1' },
    guestNetworks: [{ id: 'net', interface: 'eth2', prefix: '2001:db8:5::/64', firewall }],
  }));

function nftCheck(document: unknown): { status: number | null; stderr: string } {
  const path = join(work, 'ruleset.json');
  writeFileSync(path, JSON.stringify(document));
  const result = spawnSync('unshare', ['--net', 'nft', '-j', '-c', '-f', path], { encoding: 'utf8' });
  return { status: result.status, stderr: result.stderr };
}

(canRunLab(['nft', 'unshare']) ? describe : describe.skip)('firewall schema fuzzing against the real nft', () => {
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it(`renders only rulesets nft accepts (runs ${RUNS}, seed ${SEED})`, () => {
    console.log(`firewall fuzz: SEED=${SEED} FUZZ_RUNS=${RUNS}`);
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof(vpcState, isolatedState), (input) => {
        const parsed = parseWith(DesiredState, input);
        if (!parsed.ok) {
          expect(parsed.errors.length).toBeGreaterThan(0);
          for (const error of parsed.errors) expect(error.path).toMatch(/^\$/);
          return;
        }
        accepted++;
        const result = nftCheck(renderRulesetDocument(renderRuleset(parsed.value)));
        expect(result.status, `nft -c refused an accepted state: ${result.stderr}\n${JSON.stringify(input)}`).toBe(0);
      }),
      { numRuns: RUNS, seed: SEED },
    );
    console.log(`firewall fuzz: ${RUNS} states, ${accepted} accepted and checked by nft -c, ${RUNS - accepted} refused with paths`);
    expect(accepted).toBeGreaterThan(RUNS / 10);
  }, 120_000);
});
