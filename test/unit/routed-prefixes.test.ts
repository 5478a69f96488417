import { describe, expect, it } from 'vitest';
import { DesiredState } from '../../src/schema/desired-state.js';
import { parseWith } from '../../src/schema/validation.js';
import { vpcInput } from '../support/states.js';

/** A VPC state of schemaVersion 2 whose web tier routes a /56 to one instance. */
function routedInput(): Record<string, any> {
  const input = vpcInput();
  input.schemaVersion = 2;
  input.guestNetworks[0].routedPrefixes = [{ prefix: '2001:db8:300::/56', nextHop: '2001:db8:200:1::10', description: 'containers of vm-1' }];
  return input;
}

function errorsOf(input: unknown) {
  const parsed = parseWith(DesiredState, input);
  return parsed.ok ? [] : parsed.errors;
}

describe('routed prefixes, schemaVersion 2', () => {
  it('parses the object form into prefix, next hop and description', () => {
    const parsed = parseWith(DesiredState, routedInput());
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value.guestNetworks[0]!.routedPrefixes).toEqual([
      { prefix: { address: '2001:db8:300::', length: 56 }, nextHop: '2001:db8:200:1::10', description: 'containers of vm-1' },
    ]);
  });

  it('takes a link-local next hop, and no description', () => {
    const input = routedInput();
    input.guestNetworks[0].routedPrefixes = [{ prefix: '2001:db8:300::/48', nextHop: 'FE80::a8bb:ccff:fe00:1' }];
    const parsed = parseWith(DesiredState, input);
    expect(parsed.ok && parsed.value.guestNetworks[0]!.routedPrefixes[0]).toEqual({
      prefix: { address: '2001:db8:300::', length: 48 },
      nextHop: 'fe80::a8bb:ccff:fe00:1',
      description: null,
    });
  });

  it('refuses a plain CIDR, naming the object form', () => {
    const input = routedInput();
    input.guestNetworks[0].routedPrefixes = ['2001:db8:300::/56'];
    expect(errorsOf(input)).toEqual([{ path: '$.guestNetworks[0].routedPrefixes[0]', message: expect.stringMatching(/plain CIDR.*"nextHop"/) }]);
  });

  it('refuses a next hop off the network, and the VR’s own address', () => {
    const input = routedInput();
    input.guestNetworks[0].routedPrefixes = [
      { prefix: '2001:db8:300::/56', nextHop: '2001:db8:200:2::10' },
      { prefix: '2001:db8:301::/56', nextHop: '2001:db8:200:1::1' },
      { prefix: '2001:db8:302::/56', nextHop: 'ff02::1' },
    ];
    expect(errorsOf(input)).toEqual([
      { path: '$.guestNetworks[0].routedPrefixes[0].nextHop', message: "must be link-local or inside the network's prefix 2001:db8:200:1::/64" },
      { path: '$.guestNetworks[0].routedPrefixes[1].nextHop', message: "is the VR's own address on the network, not an instance's" },
      { path: '$.guestNetworks[0].routedPrefixes[2].nextHop', message: "must be link-local or inside the network's prefix 2001:db8:200:1::/64" },
    ]);
  });

  it('refuses a prefix longer than /64 or shorter than /40', () => {
    const input = routedInput();
    input.guestNetworks[0].routedPrefixes = [
      { prefix: '2001:db8:300::/80', nextHop: '2001:db8:200:1::10' },
      { prefix: '2001:d00::/24', nextHop: '2001:db8:200:1::10' },
    ];
    const errors = errorsOf(input);
    expect(errors).toContainEqual({ path: '$.guestNetworks[0].routedPrefixes[0].prefix', message: 'must be a /40 to /64' });
    expect(errors).toContainEqual({ path: '$.guestNetworks[0].routedPrefixes[1].prefix', message: 'must be a /40 to /64' });
  });

  it('refuses overlaps with a guest /64, the public /64 and another routed prefix, and one prefix on two networks', () => {
    const input = routedInput();
    input.guestNetworks[0].routedPrefixes = [
      { prefix: '2001:db8:200::/56', nextHop: '2001:db8:200:1::10' },
      { prefix: '2001:db8:100::/64', nextHop: '2001:db8:200:1::10' },
      { prefix: '2001:db8:300::/48', nextHop: '2001:db8:200:1::10' },
      { prefix: '2001:db8:300:100::/56', nextHop: '2001:db8:200:1::11' },
    ];
    input.guestNetworks[1].routedPrefixes = [{ prefix: '2001:db8:300::/48', nextHop: '2001:db8:200:2::10' }];
    expect(errorsOf(input)).toEqual([
      { path: '$.guestNetworks[0].routedPrefixes[0]', message: 'overlaps guestNetworks[0].prefix' },
      { path: '$.guestNetworks[0].routedPrefixes[1]', message: 'overlaps the public prefix' },
      { path: '$.guestNetworks[0].routedPrefixes[3]', message: expect.stringMatching(/^overlaps guestNetworks\[\d\]\.routedPrefixes\[\d\]$/) },
      { path: '$.guestNetworks[1].routedPrefixes[0]', message: 'duplicates guestNetworks[0].routedPrefixes[2]' },
    ]);
  });

  it('checks a thousand routed prefixes in a blink: one sort, not every pair', () => {
    const input = routedInput();
    input.guestNetworks[0].routedPrefixes = Array.from({ length: 1000 }, (_, i) => ({
      prefix: `2001:db8:${(0x1000 + i).toString(16)}::/56`,
      nextHop: `2001:db8:200:1::${(i % 200) + 10}`,
    }));
    input.guestNetworks[0].routedPrefixes.push({ prefix: '2001:db8:1000:80::/60', nextHop: '2001:db8:200:1::10' });
    expect(errorsOf(input)).toEqual([
      { path: '$.guestNetworks[0].routedPrefixes[1000]', message: 'overlaps guestNetworks[0].routedPrefixes[0]' },
    ]);
  });
});

describe('routed prefixes, schemaVersion 1', () => {
  it('keeps plain CIDRs as sources only: nothing routed, overlaps between them allowed as before', () => {
    const input = vpcInput();
    input.guestNetworks[0].routedPrefixes = ['2001:db8:300::/48', '2001:db8:300::/56'];
    const parsed = parseWith(DesiredState, input);
    expect(parsed.ok && parsed.value.guestNetworks[0]!.routedPrefixes.map((r) => r.nextHop)).toEqual([null, null]);
  });

  it('refuses the object form, naming the version that takes it', () => {
    const input = vpcInput();
    input.guestNetworks[0].routedPrefixes = [{ prefix: '2001:db8:300::/56', nextHop: '2001:db8:200:1::10' }];
    expect(errorsOf(input)).toEqual([{ path: '$.guestNetworks[0].routedPrefixes[0]', message: expect.stringMatching(/needs schemaVersion 2/) }]);
  });

  it('refuses a schemaVersion it does not know', () => {
    const input = vpcInput();
    input.schemaVersion = 3;
    expect(errorsOf(input)).toContainEqual({ path: '$.schemaVersion', message: expect.any(String) });
  });
});
