import { describe, expect, it } from 'vitest';
import { parseDatabagTexts } from '../../src/cloudstack/databags.js';
import { importCloudStack, type CloudStackImport } from '../../src/cloudstack/import.js';
import { splitCidrs, translateIcmp } from '../../src/cloudstack/rules.js';
import { renderRuleset } from '../../src/render/ruleset.js';
import type { FieldError } from '../../src/schema/validation.js';
import { readFixture } from '../support/cloudstack-fixtures.js';

function imported(bags: Record<string, unknown>): CloudStackImport {
  const result = importCloudStack(bags);
  if (!result.ok) throw new Error(`refused: ${JSON.stringify(result.errors)}`);
  return result.value;
}

function refused(bags: Record<string, unknown>): FieldError[] {
  const result = importCloudStack(bags);
  if (result.ok) throw new Error('accepted');
  return result.errors;
}

const firewallOf = (value: CloudStackImport) => value.state.guestNetworks[0]!.firewall!;
const listOf = (value: CloudStackImport, id: string) => value.state.aclLists.find((list) => list.id === id)!;
const prefixes = (list: readonly { address: string; length: number }[]) => list.map((p) => `${p.address}/${p.length}`);

describe('an isolated VR from its boot parameters and IPv6 firewall rules', () => {
  it('gives the guest /64 on eth0, the public address CloudStack chose on eth2, and the RA settings', () => {
    const { state } = imported(readFixture('isolated'));
    expect(state.router).toEqual({ id: 'r-31-VM', kind: 'isolated' });
    expect(state.public).toMatchObject({ interface: 'eth2', mode: 'static', address: { address: '2001:db8:30f:0:1c00:62ff:fe00:17', length: 64 }, gateway: '2001:db8:30f::1' });
    const [network] = state.guestNetworks;
    expect(network).toMatchObject({ interface: 'eth0', gateway: '2001:db8:310:1::1', prefix: { address: '2001:db8:310:1::', length: 64 } });
    expect(network!.ra).toMatchObject({ dnsServers: ['2001:db8:53::53', '2001:db8:53::54'], searchDomains: ['tenant-a.cloud.internal'], mtu: 1450 });
  });

  it('leaves out rule 0, which carries the default egress policy, and revoked rules', () => {
    const firewall = firewallOf(imported(readFixture('isolated')));
    expect(firewall.defaultEgress).toBe('deny');
    expect(firewall.ingress.map((rule) => rule.id)).toEqual(['11', '12', '13', '17']);
    expect(firewall.egress.map((rule) => rule.id)).toEqual(['14', '15']);
  });

  it('follows rules revoked and added, as the merged databag changes', () => {
    const bags = readFixture('isolated');
    bags.ipv6firewallrules['11'].revoked = true;
    bags.ipv6firewallrules['18'] = { ...bags.ipv6firewallrules['15'], id: 18, src_port_range: [8080, 8080] };
    const firewall = firewallOf(imported(bags));
    expect(firewall.ingress.map((rule) => rule.id)).toEqual(['12', '13', '17']);
    expect(firewall.egress.map((rule) => rule.id)).toEqual(['14', '15', '18']);
    expect(firewall.egress[2]!.ports).toEqual({ start: 8080, end: 8080 });
  });

  it('takes the default egress policy both ways, and egress rules then mean the opposite', () => {
    const bags = readFixture('isolated');
    for (const rule of Object.values<any>(bags.ipv6firewallrules)) if (typeof rule === 'object') rule.default_egress_policy = true;
    const allow = imported(bags);
    expect(firewallOf(allow).defaultEgress).toBe('allow');
    const deny = imported(readFixture('isolated'));
    // Egress tcp 443: an exception to the default in both cases, so it passes under deny and is dropped under allow.
    const verdicts = (value: CloudStackImport) => {
      const egress = renderRuleset(value.state).chains.find((chain) => chain.name === 'egress_eth0')!;
      return egress.rules.map((rule) => rule.comment);
    };
    expect(verdicts(deny)).toEqual(['firewall rule 14', 'firewall rule 15', 'default egress deny']);
    expect(verdicts(allow)).toEqual(['firewall rule 14', 'firewall rule 15', 'default egress allow']);
  });

  it('narrows an ingress rule to the instance its dest_cidr_list names', () => {
    const rule = firewallOf(imported(readFixture('isolated'))).ingress.find((r) => r.id === '13')!;
    expect(prefixes(rule.localCidrs)).toEqual(['2001:db8:310:1::10/128']);
    expect(rule.ports).toEqual({ start: 8443, end: 8444 });
  });

  it('reads ICMP in an IPv6 firewall rule as ICMPv6: -1 is any type, 128/0 is echo request', () => {
    const firewall = firewallOf(imported(readFixture('isolated')));
    expect(firewall.ingress.find((r) => r.id === '12')).toMatchObject({ protocol: 'icmpv6' });
    expect(firewall.ingress.find((r) => r.id === '12')!.icmp).toBeUndefined();
    expect(firewall.ingress.find((r) => r.id === '17')!.icmp).toEqual({ type: 128, code: 0 });
  });

  it('without IPv6 boot parameters has no guest network and learns the public address by SLAAC', () => {
    const bags = readFixture('isolated');
    for (const key of ['eth0ip6', 'eth0ip6prelen', 'eth2ip6', 'eth2ip6prelen', 'ip6gateway']) delete bags.cmdline.config[key];
    const { state } = imported(bags);
    expect(state.guestNetworks).toEqual([]);
    expect(state.public).toMatchObject({ interface: 'eth2', mode: 'slaac' });
  });
});

describe('a VPC from its guest networks and network ACLs', () => {
  it('gives one tier per added device with IPv6, each with its own ACL list', () => {
    const { state } = imported(readFixture('vpc'));
    expect(state.guestNetworks.map((n) => [n.id, n.interface, `${n.prefix.address}/${n.prefix.length}`, n.aclId])).toEqual([
      ['301', 'eth2', '2001:db8:550:1::/64', 'acl-eth2'],
      ['302', 'eth3', '2001:db8:550:2::/64', 'acl-eth3'],
    ]);
    expect(state.aclLists.map((list) => list.id)).toEqual(['acl-eth2', 'acl-eth3']);
    expect(state.public).toMatchObject({ interface: 'eth1', mode: 'static', gateway: '2001:db8:55f::1' });
  });

  it('adds a tier when guestnetwork.json gains a device and drops one whose entry says add: false', () => {
    const bags = readFixture('vpc');
    const tier = structuredClone(bags.guestnetwork.eth3[0]);
    Object.assign(tier, { device: 'eth4', network_id: 303, router_guest_ip6: '2001:db8:550:3::1', router_guest_ip6_gateway: '2001:db8:550:3::1', router_guest_ip6_cidr: '2001:db8:550:3::/64' });
    bags.guestnetwork.eth4 = [tier];
    const added = imported(bags).state;
    expect(added.guestNetworks.map((n) => n.interface)).toEqual(['eth2', 'eth3', 'eth4']);
    // eth4's ACL was already in networkacl.json: IPv4 rules only, so nothing but the defaults.
    expect(listOf(imported(bags), 'acl-eth4')).toMatchObject({ defaultEgress: 'deny', items: [] });
    bags.guestnetwork.eth3[0].add = false;
    const removed = imported(bags).state;
    expect(removed.guestNetworks.map((n) => n.interface)).toEqual(['eth2', 'eth4']);
    expect(removed.aclLists.map((list) => list.id)).toEqual(['acl-eth2', 'acl-eth4']);
  });

  it('keeps the IPv6 CIDRs of a mixed list and leaves out a rule that names only IPv4', () => {
    const web = listOf(imported(readFixture('vpc')), 'acl-eth2');
    expect(web.items.map((item) => [item.direction, item.protocol, prefixes(item.cidrs)])).toEqual([
      ['ingress', 'tcp', ['::/0']],
      ['ingress', 'tcp', ['2001:db8:7000::/48']],
      ['ingress', 'icmpv6', ['::/0']],
      ['egress', 'all', ['::/0']],
    ]);
    const db = listOf(imported(readFixture('vpc')), 'acl-eth3');
    expect(prefixes(db.items[0]!.cidrs)).toEqual(['2001:db8:550:1::/64']);
  });

  it('keeps the rules in order, ingress then egress, and egress becomes default deny once it has rules', () => {
    const db = listOf(imported(readFixture('vpc')), 'acl-eth3');
    expect(db.items.map((item) => `${item.number} ${item.direction} ${item.action}`)).toEqual([
      '1 ingress allow',
      '2 ingress allow',
      '3 ingress allow',
      '4 ingress deny',
      '5 ingress allow',
      '6 egress deny',
      '7 egress allow',
    ]);
    expect(db.defaultEgress).toBe('deny');
    const bags = readFixture('vpc');
    bags.networkacl.eth3.egress_rules = [];
    expect(listOf(imported(bags), 'acl-eth3').defaultEgress).toBe('allow');
  });

  it('reads ICMP types as ICMPv6 on an IPv6-only rule and as ICMPv4 on a mixed one: 8 becomes 128, 5 (redirect) is left out', () => {
    const db = listOf(imported(readFixture('vpc')), 'acl-eth3');
    const icmp = db.items.filter((item) => item.protocol === 'icmpv6').map((item) => item.icmp);
    expect(icmp).toEqual([{ type: 128, code: 0 }, { type: 128 }]);
  });

  it('keeps protocol numbers, reads protocol 1 as ICMPv6, and refuses an extension header at its databag path', () => {
    const bags = readFixture('vpc');
    expect(listOf(imported(bags), 'acl-eth3').items[3]).toMatchObject({ protocol: 47, action: 'deny' });
    bags.networkacl.eth3.ingress_rules[4].protocol = 1;
    expect(listOf(imported(bags), 'acl-eth3').items[3]).toMatchObject({ protocol: 'icmpv6' });
    bags.networkacl.eth3.ingress_rules[4].protocol = 43;
    expect(refused(bags)).toEqual([
      {
        path: 'networkacl.json: $.eth3.ingress_rules[4].protocol',
        message: 'protocol 43 is an IPv6 extension header, which a firewall rule can never match (as $.aclLists[1].items[3].protocol)',
      },
    ]);
  });

  it('ignores an IPv4-only private gateway ACL and refuses one with IPv6', () => {
    const bags = readFixture('vpc');
    expect(imported(bags).state.aclLists).toHaveLength(2);
    bags.networkacl.eth5.nic_ip6_cidr = '2001:db8:5a5::/64';
    expect(refused(bags).map((e) => e.path)).toEqual(['networkacl.json: $.eth5.nic_ip6_cidr']);
  });

  it('takes BGP peers with an IPv6 address, the VR as AS network_as_number, announcing every tier', () => {
    const bags = readFixture('vpc');
    bags.bgppeers.peers = [
      { peer_id: 7, ip4_address: '198.51.100.1', as_number: 64512, network_as_number: 65101 },
      { peer_id: 8, ip6_address: '2001:db8:55f::1', as_number: 64512, network_as_number: 65101, password: 's3cret' },
    ];
    const { state } = imported(bags);
    expect(state.routing.protocol).toBe('bgp');
    expect(state.routing.bgp).toMatchObject({ localAs: 65101, routerId: '198.51.100.55', announce: { guestPrefixes: true } });
    expect(state.routing.bgp!.peers.map((peer) => [peer.address, peer.remoteAs, peer.password])).toEqual([['2001:db8:55f::1', 64512, 's3cret']]);
  });

  it('names the databag field behind a value the desired state refuses', () => {
    const bags = readFixture('vpc');
    bags.guestnetwork.eth3[0].router_guest_ip6_cidr = '2001:db8:550:2::/56';
    bags.guestnetwork.eth2[0].mtu = 1000;
    const errors = refused(bags);
    expect([...new Set(errors.map((error) => error.path))]).toEqual(['guestnetwork.json: $.eth2[0].mtu', 'guestnetwork.json: $.eth3[0].router_guest_ip6_cidr']);
    expect(errors[0]!.message).toMatch(/\(as \$\.guestNetworks\[0\]\.ra\.mtu\)$/);
  });

  it('refuses an IPv6 static route and a databag of the wrong shape, at their paths', () => {
    const bags = readFixture('vpc');
    bags.staticroutes['2001:db8:77::/48'] = { network: '2001:db8:77::/48', gateway: '2001:db8:55f::9', revoke: false };
    bags.networkacl.eth2.ingress_rules[0].allowed = 'yes';
    expect(refused(bags).map((error) => error.path)).toEqual(['networkacl.json: $.eth2.ingress_rules[0].allowed']);
    bags.networkacl.eth2.ingress_rules[0].allowed = true;
    expect(refused(bags).map((error) => error.path)).toEqual(['staticroutes.json: $["2001:db8:77::/48"].network']);
  });
});

describe('databag texts', () => {
  it('names a file caught half-written, and needs cmdline.json', () => {
    const half = parseDatabagTexts({ cmdline: '{"config": {"type": "vpcrouter"', guestnetwork: null });
    expect(half.ok ? [] : half.errors.map((e) => e.path)).toEqual(['cmdline.json: $']);
    expect(refused({}).map((e) => e.path)).toEqual(['cmdline.json: $']);
  });
});

describe('rule pieces', () => {
  it('splits CIDR lists by family', () => {
    expect(splitCidrs(['0.0.0.0/0', ' ::/0 ', ''])).toEqual({ ipv6: ['::/0'], hasIpv4: true });
    expect(splitCidrs(['10.0.0.1'])).toEqual({ ipv6: [], hasIpv4: true });
  });

  it('maps the ICMPv4 types that have an ICMPv6 counterpart, on mixed rules only', () => {
    expect(translateIcmp(8, -1, true)).toEqual({ icmp: { type: 128 } });
    expect(translateIcmp(0, 0, true)).toEqual({ icmp: { type: 129 } });
    expect(translateIcmp(3, 3, true)).toEqual({ icmp: { type: 1, code: 4 } });
    expect(translateIcmp(3, 4, true)).toEqual({ icmp: { type: 2 } });
    expect(translateIcmp(11, -1, true)).toEqual({ icmp: { type: 3 } });
    expect(translateIcmp(13, -1, true)).toBeNull();
    expect(translateIcmp(3, -1, false)).toEqual({ icmp: { type: 3 } });
    expect(translateIcmp(135, 0, true)).toEqual({ icmp: { type: 135, code: 0 } });
    expect(translateIcmp(-1, 4, true)).toEqual({});
  });
});
