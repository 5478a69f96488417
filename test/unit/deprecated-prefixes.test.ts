import { describe, expect, it } from 'vitest';
import { DeprecationLedger, deriveDeprecatedPrefixes } from '../../src/daemon/deprecations.js';
import { MemoryHost } from '../support/memory-host.js';
import { renderHost } from '../../src/render/host-facts.js';
import { DesiredState } from '../../src/schema/desired-state.js';
import { parseIpv6Prefix } from '../../src/schema/ipv6.js';
import { vpcInput } from '../support/states.js';

const base = DesiredState.parse(vpcInput());
function withTier2Prefix(prefix: string) {
  const input = vpcInput();
  input.guestNetworks[1].prefix = prefix;
  return DesiredState.parse(input);
}
function withoutTier2() {
  const input = vpcInput();
  input.guestNetworks.pop();
  return DesiredState.parse(input);
}

describe('deprecated prefixes (RFC 9096)', () => {
  it('starts a window for a prefix a link loses, and ends it when the prefix comes back', () => {
    const renumbered = withTier2Prefix('2001:db8:200:9::/64');
    const started = deriveDeprecatedPrefixes(base, renumbered, [], 1000, 7200);
    expect(started).toEqual([{ interface: 'eth3', prefix: parseIpv6Prefix('2001:db8:200:2::/64'), gateway: '2001:db8:200:2::1', untilSeconds: 8200 }]);
    expect(deriveDeprecatedPrefixes(renumbered, renumbered, started, 2000, 7200)).toEqual(started);
    expect(deriveDeprecatedPrefixes(renumbered, renumbered, started, 8200, 7200)).toEqual([]);
    expect(deriveDeprecatedPrefixes(renumbered, base, started, 2000, 7200)).toEqual([
      { interface: 'eth3', prefix: parseIpv6Prefix('2001:db8:200:9::/64'), gateway: '2001:db8:200:9::1', untilSeconds: 9200 },
    ]);
  });

  it('advertises the old prefix with lifetimes 0 beside the new one, and keeps the old gateway', () => {
    const renumbered = withTier2Prefix('2001:db8:200:9::/64');
    const host = renderHost(renumbered, deriveDeprecatedPrefixes(base, renumbered, [], 0, 7200));
    expect(host.radvdConf).toContain('    prefix 2001:db8:200:9::/64\n    {\n        AdvOnLink on;\n        AdvAutonomous on;\n        AdvRouterAddr off;\n        AdvValidLifetime 86400;');
    expect(host.radvdConf).toContain('    prefix 2001:db8:200:2::/64\n    {\n        AdvOnLink on;\n        AdvAutonomous on;\n        AdvRouterAddr off;\n        AdvValidLifetime 0;\n        AdvPreferredLifetime 0;');
    expect(host.addresses).toContainEqual({ interface: 'eth3', address: '2001:db8:200:2::1', prefixLength: 64 });
    expect(JSON.stringify(host.ruleset.chains.find((c) => c.name === 'forward'))).toContain('2001:db8:200:2::');
  });

  it('stops being a default router on a link whose network is gone', () => {
    const gone = withoutTier2();
    const conf = renderHost(gone, deriveDeprecatedPrefixes(base, gone, [], 0, 7200)).radvdConf!;
    expect(conf).toMatch(/interface eth3\n\{\n    AdvSendAdvert on;\n    AdvDefaultLifetime 0;\n    prefix 2001:db8:200:2::\/64/);
  });

  it('persists windows across restarts and tells when the next one ends', async () => {
    const host = new MemoryHost();
    let now = 1000;
    const path = '/vr/state/deprecated-prefixes.json';
    const ledger = new DeprecationLedger(host, path, 7200, () => now);
    await ledger.advance(base, withoutTier2()).written;
    expect(JSON.parse(host.files.get(path)!)).toEqual([{ interface: 'eth3', prefix: '2001:db8:200:2::/64', gateway: '2001:db8:200:2::1', untilSeconds: 8200 }]);
    const restarted = new DeprecationLedger(host, path, 7200, () => now);
    await restarted.load();
    expect(restarted.active(withoutTier2())).toEqual(ledger.active(withoutTier2()));
    expect(restarted.active(withoutTier2())).toHaveLength(1);
    expect(restarted.msUntilNextExpiry(withoutTier2())).toBe(7_201_000);
    now = 8200;
    expect(restarted.active(withoutTier2())).toEqual([]);
    expect(restarted.msUntilNextExpiry(withoutTier2())).toBeNull();
  });
});
