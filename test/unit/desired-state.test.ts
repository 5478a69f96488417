import { describe, expect, it } from 'vitest';
import { DesiredState, gatewayOf } from '../../src/schema/desired-state.js';
import { parseWith } from '../../src/schema/validation.js';
import { isolatedInput, vpcInput } from '../support/states.js';

function errorsOf(input: unknown) {
  const parsed = parseWith(DesiredState, input);
  if (parsed.ok) throw new Error('expected the state to be rejected');
  return parsed.errors;
}

function expectRejected(input: unknown, path: string, message: RegExp) {
  expect(errorsOf(input)).toContainEqual({ path, message: expect.stringMatching(message) });
}

describe('desired state v1', () => {
  it('accepts the examples and fills in the defaults', () => {
    const isolated = parseWith(DesiredState, isolatedInput());
    const vpc = parseWith(DesiredState, vpcInput());
    expect(isolated.ok && vpc.ok).toBe(true);
    if (!isolated.ok) return;
    const network = isolated.value.guestNetworks[0]!;
    expect(isolated.value.public.mode).toBe('slaac');
    expect(isolated.value.raBackend).toBe('radvd');
    expect(network.ra).toMatchObject({ minIntervalSeconds: 200, maxIntervalSeconds: 600, routerLifetimeSeconds: 1800 });
    expect(network.firewall?.ingress[0]?.cidrs).toEqual([{ address: '::', length: 0 }]);
    expect(gatewayOf(network)).toBe('2001:db8:200:1::1');
  });

  it('normalises addresses and clears host bits of CIDRs', () => {
    const input = isolatedInput();
    input.guestNetworks[0].prefix = '2001:DB8:200:1:0:0:0:0/64';
    input.guestNetworks[0].firewall.ingress[0].cidrs = ['2001:db8:ffff::1/48'];
    input.guestNetworks[0].ra = { dnsServers: ['2001:0db8:0000::0053'] };
    const parsed = parseWith(DesiredState, input);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const network = parsed.value.guestNetworks[0]!;
    expect(network.prefix).toEqual({ address: '2001:db8:200:1::', length: 64 });
    expect(network.firewall?.ingress[0]?.cidrs).toEqual([{ address: '2001:db8:ffff::', length: 48 }]);
    expect(network.ra.dnsServers).toEqual(['2001:db8::53']);
  });

  it.each([
    ['a prefix that is not a /64', (s: any) => (s.guestNetworks[0].prefix = '2001:db8:200::/56'), '$.guestNetworks[0].prefix', /\/64/],
    ['IPv4 where IPv6 belongs', (s: any) => (s.guestNetworks[0].gateway = '10.1.1.1'), '$.guestNetworks[0].gateway', /IPv4/],
    ['an IPv4-mapped address', (s: any) => (s.guestNetworks[0].gateway = '::ffff:10.1.1.1'), '$.guestNetworks[0].gateway', /IPv4-mapped/],
    ['a host name', (s: any) => (s.guestNetworks[0].gateway = 'gw.example.com'), '$.guestNetworks[0].gateway', /not an IPv6/],
    ['a zone id', (s: any) => (s.guestNetworks[0].gateway = 'fe80::1%eth0'), '$.guestNetworks[0].gateway', /not an IPv6/],
    ['a gateway outside its prefix', (s: any) => (s.guestNetworks[0].gateway = '2001:db8:999::1'), '$.guestNetworks[0].gateway', /inside/],
    ['the subnet-router anycast as gateway', (s: any) => (s.guestNetworks[0].gateway = '2001:db8:200:1::'), '$.guestNetworks[0].gateway', /anycast/],
    ['an interface name with a newline', (s: any) => (s.guestNetworks[0].interface = 'eth2\ninterface x'), '$.guestNetworks[0].interface', /interface name/],
    ['an interface name of 16 characters', (s: any) => (s.guestNetworks[0].interface = 'abcdefghijklmnop'), '$.guestNetworks[0].interface', /1-15/],
    ['the public interface as a guest', (s: any) => (s.guestNetworks[0].interface = 'eth1'), '$.guestNetworks[0].interface', /public/],
    ['Min > 0.75 × Max', (s: any) => (s.guestNetworks[0].ra = { minIntervalSeconds: 460, maxIntervalSeconds: 600 }), '$.guestNetworks[0].ra.minIntervalSeconds', /0\.75/],
    ['preferred > valid', (s: any) => (s.guestNetworks[0].ra = { validLifetimeSeconds: 100, preferredLifetimeSeconds: 200 }), '$.guestNetworks[0].ra.preferredLifetimeSeconds', /valid/],
    ['a PREF64 of a length RFC 8781 has no code for', (s: any) => (s.guestNetworks[0].ra = { pref64: '64:ff9b::/80' }), '$.guestNetworks[0].ra.pref64', /\/96/],
    ['a router lifetime below Max', (s: any) => (s.guestNetworks[0].ra = { routerLifetimeSeconds: 10 }), '$.guestNetworks[0].ra.routerLifetimeSeconds', /maxInterval/],
    ['a port above 65535', (s: any) => (s.guestNetworks[0].firewall.ingress[0].ports = { start: 1, end: 70000 }), '$.guestNetworks[0].firewall.ingress[0].ports.end', /65535/],
    ['a reversed port range', (s: any) => (s.guestNetworks[0].firewall.ingress[0].ports = { start: 30, end: 20 }), '$.guestNetworks[0].firewall.ingress[0].ports.end', /exceed/],
    ['ports on icmpv6', (s: any) => (s.guestNetworks[0].firewall.ingress[0].protocol = 'icmpv6'), '$.guestNetworks[0].firewall.ingress[0].ports', /tcp and udp/],
    ['protocol 1 (ICMPv4)', (s: any) => (s.guestNetworks[0].firewall.ingress[0] = { protocol: 1 }), '$.guestNetworks[0].firewall.ingress[0].protocol', /ICMPv4/],
    ['an extension header as protocol', (s: any) => (s.guestNetworks[0].firewall.ingress[0] = { protocol: 44 }), '$.guestNetworks[0].firewall.ingress[0].protocol', /extension header/],
    ['an ICMP code above 255', (s: any) => (s.guestNetworks[0].firewall.ingress[0] = { protocol: 'icmpv6', icmp: { type: 1, code: 256 } }), '$.guestNetworks[0].firewall.ingress[0].icmp.code', /255/],
    ['an unknown key', (s: any) => (s.guestNetworks[0].gatway = '2001:db8:200:1::1'), '$.guestNetworks[0]', /gatway/],
    ['an ACL list on an isolated network', (s: any) => (s.aclLists = [{ id: 'a', items: [] }]), '$.aclLists', /VPC/],
  ])('rejects %s, naming the field', (_name, mutate, path, message) => {
    const input = isolatedInput();
    mutate(input);
    expectRejected(input, path, message);
  });

  it.each([
    ['duplicate ids', (s: any) => (s.guestNetworks[1].id = 'tier-web'), '$.guestNetworks[1].id', /duplicates/],
    ['duplicate interfaces', (s: any) => (s.guestNetworks[1].interface = 'eth2'), '$.guestNetworks[1].interface', /duplicates/],
    ['overlapping prefixes', (s: any) => (s.guestNetworks[1].prefix = '2001:db8:200:1::/64'), '$.guestNetworks[1].prefix', /overlaps/],
    ['a tier inside the public prefix', (s: any) => (s.guestNetworks[1].prefix = '2001:db8:100::/64'), '$.guestNetworks[1].prefix', /public/],
    ['a tier without an ACL', (s: any) => delete s.guestNetworks[1].aclId, '$.guestNetworks[1].aclId', /required/],
    ['a tier naming a missing ACL', (s: any) => (s.guestNetworks[1].aclId = 'nope'), '$.guestNetworks[1].aclId', /names no entry/],
    ['a firewall on a VPC tier', (s: any) => (s.guestNetworks[1].firewall = {}), '$.guestNetworks[1].firewall', /isolated/],
    ['duplicate ACL item numbers', (s: any) => s.aclLists[0].items.push({ number: 10, action: 'deny', direction: 'egress', protocol: 'all' }), '$.aclLists[0].items[1].number', /already used/],
    ['icmpv4 as a protocol name', (s: any) => s.aclLists[0].items.push({ number: 11, action: 'deny', direction: 'egress', protocol: 'icmp' }), '$.aclLists[0].items[1].protocol', /.+/],
  ])('rejects %s in a VPC', (_name, mutate, path, message) => {
    const input = vpcInput();
    mutate(input);
    expectRejected(input, path, message);
  });

  it('checks static public addressing', () => {
    const input = isolatedInput();
    input.public = { interface: 'eth1', mode: 'static', address: '2001:db8:100::5/64', gateway: '2001:db8:999::1' };
    expectRejected(input, '$.public.gateway', /link-local or inside 2001:db8:100::\/64/);
    input.public = { interface: 'eth1', mode: 'static' };
    expectRejected(input, '$.public.address', /required/);
    input.public = { interface: 'eth1', address: '2001:db8:100::5/64' };
    expectRejected(input, '$.public.address', /static/);
    input.public = { interface: 'eth1', mode: 'static', address: '2001:db8:100::5/64', gateway: 'fe80::1' };
    expect(parseWith(DesiredState, input).ok).toBe(true);
  });

  it('never throws on hostile shapes', () => {
    for (const input of [null, 42, 'x', [], { schemaVersion: 2 }, { guestNetworks: 'x' }, JSON.parse('{"__proto__":{"x":1}}')]) {
      expect(parseWith(DesiredState, input).ok).toBe(false);
    }
  });
});

describe('routed prefixes', () => {
  it('must not overlap a guest prefix or the public one', () => {
    const input = vpcInput();
    input.guestNetworks[0].routedPrefixes = ['2001:db8:200:2::/64', '2001:db8:100::/56'];
    const errors = parseWith(DesiredState, input);
    expect(errors.ok ? [] : errors.errors).toEqual([
      { path: '$.guestNetworks[0].routedPrefixes[0]', message: 'overlaps guestNetworks[1].prefix' },
      { path: '$.guestNetworks[0].routedPrefixes[1]', message: 'overlaps the public prefix' },
    ]);
  });
});
