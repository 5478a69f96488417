import { describe, expect, it } from 'vitest';
import { RULESET_TABLE } from '../../src/model/ownership.js';
import { egressRuleAction, renderRuleset, type NftChain, type NftExpr, type NftMatch, type NftRight, type NftRule, type NftRuleset } from '../../src/render/ruleset.js';
import { renderRulesetDocument } from '../../src/render/ruleset-document.js';
import { DesiredState } from '../../src/schema/desired-state.js';
import { isInPrefix } from '../../src/schema/ipv6.js';

// ---------------------------------------------------------------------------
// Inputs

const PUBLIC = { interface: 'eth1', expectedPrefix: '2001:db8:100::/64' };

function isolatedState(firewall?: unknown, extra: object[] = []): DesiredState {
  const network = { id: 'net-a', interface: 'eth2', prefix: '2001:db8:1:1::/64', ...(firewall ? { firewall } : {}) };
  return DesiredState.parse({
    schemaVersion: 1,
    router: { id: 'r1', kind: 'isolated' },
    public: PUBLIC,
    guestNetworks: [network, ...extra],
  });
}

function vpcState(lists: unknown[], tiers?: object[]): DesiredState {
  return DesiredState.parse({
    schemaVersion: 1,
    router: { id: 'r2', kind: 'vpc' },
    public: PUBLIC,
    guestNetworks: tiers ?? [
      { id: 'web', interface: 'eth2', prefix: '2001:db8:3:1::/64', aclId: 'acl-web' },
      { id: 'db', interface: 'eth3', prefix: '2001:db8:3:2::/64', aclId: 'acl-db' },
    ],
    aclLists: lists,
  });
}

// ---------------------------------------------------------------------------
// A small evaluator of the rendered model, enough to ask "what happens to this
// packet". It follows nft: a payload match on another protocol never matches.

interface Packet {
  iif: string;
  oif?: string;
  saddr: string;
  daddr: string;
  proto: 'tcp' | 'udp' | 'ipv6-icmp' | number;
  dport?: number;
  icmpType?: number;
  icmpCode?: number;
  ct?: 'new' | 'established' | 'related' | 'invalid';
  hoplimit?: number;
}

const PROTO_NUMBERS: Record<string, number> = { tcp: 6, udp: 17, 'ipv6-icmp': 58 };
const protoNumber = (p: string | number) => (typeof p === 'number' ? p : (PROTO_NUMBERS[p] ?? -1));

function fieldOf(m: NftMatch, p: Packet): string | number | undefined {
  const left = m.match.left;
  if ('meta' in left) {
    const key = left.meta.key;
    if (key === 'l4proto') return protoNumber(p.proto);
    return key === 'oifname' ? p.oif : p.iif;
  }
  if ('ct' in left) return p.ct ?? 'new';
  const { protocol, field } = left.payload;
  if (protocol === 'ip6') return field === 'saddr' ? p.saddr : field === 'daddr' ? p.daddr : (p.hoplimit ?? 64);
  if (protocol === 'icmpv6') return p.proto === 'ipv6-icmp' ? (field === 'type' ? p.icmpType : p.icmpCode) : undefined;
  return p.proto === protocol ? p.dport : undefined;
}

function isEqual(value: string | number, right: NftRight, isL4proto: boolean): boolean {
  if (typeof right === 'string' || typeof right === 'number') {
    return isL4proto ? value === protoNumber(right) : value === right;
  }
  if (Array.isArray(right)) return right.includes(String(value));
  if ('set' in right) return right.set.some((element) => isEqual(value, element as NftRight, isL4proto));
  if ('range' in right) return typeof value === 'number' && value >= right.range[0] && value <= right.range[1];
  if ('prefix' in right) return isInPrefix(String(value), { address: right.prefix.addr, length: right.prefix.len });
  return false;
}

function isMatching(m: NftMatch, p: Packet): boolean {
  const value = fieldOf(m, p);
  if (value === undefined) return false;
  const isL4proto = 'meta' in m.match.left && m.match.left.meta.key === 'l4proto';
  const equal = isEqual(value, m.match.right, isL4proto);
  return m.match.op === '!=' ? !equal : equal;
}

type Outcome = 'accept' | 'drop' | 'return' | undefined;

function runChain(ruleset: NftRuleset, name: string, p: Packet): Outcome {
  const chain = chainNamed(ruleset, name);
  for (const rule of chain.rules) {
    const outcome = runRule(ruleset, rule, p);
    if (outcome !== undefined) return outcome;
  }
  return chain.base ? chain.base.policy : 'return';
}

function runRule(ruleset: NftRuleset, rule: NftRule, p: Packet): Outcome | undefined {
  for (const expr of rule.expr) {
    if ('match' in expr && !isMatching(expr, p)) return undefined;
    if ('accept' in expr) return 'accept';
    if ('drop' in expr) return 'drop';
    if ('return' in expr) return 'return';
    if ('jump' in expr) {
      const outcome = runChain(ruleset, expr.jump.target, p);
      if (outcome !== 'return') return outcome;
      return undefined;
    }
    if ('vmap' in expr) {
      const value = expr.vmap.key.meta.key === 'oifname' ? p.oif : p.iif;
      const verdict = expr.vmap.data.set.find(([key]) => key === value)?.[1];
      if (verdict === undefined) return undefined;
      if ('jump' in verdict) {
        const outcome = runChain(ruleset, verdict.jump.target, p);
        return outcome === 'return' ? undefined : outcome;
      }
      return 'accept' in verdict ? 'accept' : 'drop' in verdict ? 'drop' : undefined;
    }
  }
  return undefined;
}

function chainNamed(ruleset: NftRuleset, name: string): NftChain {
  const chain = ruleset.chains.find((c) => c.name === name);
  if (!chain) throw new Error(`no chain ${name}`);
  return chain;
}

const forward = (ruleset: NftRuleset, p: Packet) => runChain(ruleset, 'forward', p);
const input = (ruleset: NftRuleset, p: Packet) => runChain(ruleset, 'input', p);

const UPSTREAM_HOST = '2001:db8:ff::7';
const GUEST_A = '2001:db8:1:1::10';
const tcpIn = (dport: number, saddr = UPSTREAM_HOST): Packet => ({ iif: 'eth1', oif: 'eth2', saddr, daddr: GUEST_A, proto: 'tcp', dport });
const tcpOut = (dport: number, daddr = UPSTREAM_HOST): Packet => ({ iif: 'eth2', oif: 'eth1', saddr: GUEST_A, daddr, proto: 'tcp', dport });
const icmpTo = (iif: string, icmpType: number, extra: Partial<Packet> = {}): Packet => ({
  iif,
  saddr: 'fe80::1',
  daddr: 'ff02::1',
  proto: 'ipv6-icmp',
  icmpType,
  icmpCode: 0,
  hoplimit: 255,
  ...extra,
});

const allExprs = (ruleset: NftRuleset): NftExpr[][] => ruleset.chains.flatMap((c) => c.rules.map((r) => [...r.expr]));
const comments = (ruleset: NftRuleset, chain: string) => chainNamed(ruleset, chain).rules.map((r) => r.comment);

// ---------------------------------------------------------------------------

describe('egressRuleAction', () => {
  it('is the opposite of the default egress policy, as in CloudStack', () => {
    expect(egressRuleAction('allow')).toBe('deny');
    expect(egressRuleAction('deny')).toBe('allow');
  });
});

describe('isolated network', () => {
  it('under default allow, egress rules deny and the rest goes out', () => {
    const ruleset = renderRuleset(isolatedState({ defaultEgress: 'allow', egress: [{ id: 'no-smtp', protocol: 'tcp', ports: { start: 25, end: 25 } }] }));
    expect(forward(ruleset, tcpOut(25))).toBe('drop');
    expect(forward(ruleset, tcpOut(80))).toBe('accept');
    expect(chainNamed(ruleset, 'egress_eth2').rules.at(-1)).toEqual({ expr: [{ return: null }], comment: 'default egress allow' });
  });

  it('under default deny, egress rules allow and the rest is dropped', () => {
    const ruleset = renderRuleset(isolatedState({ defaultEgress: 'deny', egress: [{ id: 'web', protocol: 'tcp', ports: { start: 80, end: 443 } }] }));
    expect(forward(ruleset, tcpOut(443))).toBe('accept');
    expect(forward(ruleset, tcpOut(22))).toBe('drop');
    expect(chainNamed(ruleset, 'egress_eth2').rules.at(-1)?.expr).toEqual([{ counter: null }, { drop: null }]);
  });

  it('ingress rules allow from their cidrs only; everything else is dropped', () => {
    const ruleset = renderRuleset(isolatedState({ ingress: [{ id: 'ssh', protocol: 'tcp', ports: { start: 22, end: 22 }, cidrs: ['2001:db8:ff::/48'] }] }));
    expect(forward(ruleset, tcpIn(22))).toBe('accept');
    expect(forward(ruleset, tcpIn(22, '2001:db8:fe::7'))).toBe('drop');
    expect(forward(ruleset, tcpIn(80))).toBe('drop');
  });

  it('localCidrs narrow a rule to the network side: one instance for ingress, some senders for egress', () => {
    const ruleset = renderRuleset(
      isolatedState({
        defaultEgress: 'deny',
        ingress: [{ protocol: 'tcp', ports: { start: 22, end: 22 }, localCidrs: [`${GUEST_A}/128`] }],
        egress: [{ protocol: 'tcp', localCidrs: [`${GUEST_A}/128`] }],
      }),
    );
    expect(forward(ruleset, tcpIn(22))).toBe('accept');
    expect(forward(ruleset, { ...tcpIn(22), daddr: '2001:db8:1:1::99' })).toBe('drop');
    expect(forward(ruleset, tcpOut(443))).toBe('accept');
    expect(forward(ruleset, { ...tcpOut(443), saddr: '2001:db8:1:1::99' })).toBe('drop');
  });

  it('without a firewall: ingress deny all, egress allow all', () => {
    const ruleset = renderRuleset(isolatedState());
    expect(chainNamed(ruleset, 'ingress_eth2').rules).toEqual([{ expr: [{ counter: null }, { drop: null }], comment: 'default ingress deny' }]);
    expect(chainNamed(ruleset, 'egress_eth2').rules).toEqual([{ expr: [{ return: null }], comment: 'default egress allow' }]);
    expect(forward(ruleset, tcpOut(12345))).toBe('accept');
    expect(forward(ruleset, tcpIn(22))).toBe('drop');
  });

  it('comments carry the rule id, or the position when the rule has none', () => {
    const ruleset = renderRuleset(isolatedState({ ingress: [{ id: 'fw-1', protocol: 'all' }, { protocol: 'udp' }] }));
    expect(comments(ruleset, 'ingress_eth2')).toEqual(['firewall rule fw-1', 'firewall ingress[1]', 'default ingress deny']);
  });

  it('echo request reaches a guest only when an ingress rule allows icmpv6 type 128', () => {
    const ping: Packet = { iif: 'eth1', oif: 'eth2', saddr: UPSTREAM_HOST, daddr: GUEST_A, proto: 'ipv6-icmp', icmpType: 128, icmpCode: 0 };
    expect(forward(renderRuleset(isolatedState()), ping)).toBe('drop');
    const allowed = renderRuleset(isolatedState({ ingress: [{ protocol: 'icmpv6', icmp: { type: 128 } }] }));
    expect(forward(allowed, ping)).toBe('accept');
    expect(forward(allowed, { ...ping, icmpType: 129 })).toBe('drop');
    expect(forward(allowed, { ...ping, icmpType: 129, ct: 'established' })).toBe('accept');
  });
});

describe('VPC ACL lists', () => {
  const web = {
    id: 'acl-web',
    defaultEgress: 'allow',
    items: [
      { number: 30, action: 'allow', direction: 'ingress', protocol: 'tcp', ports: { start: 22, end: 22 } },
      { number: 10, action: 'deny', direction: 'ingress', protocol: 'all', cidrs: ['2001:db8:bad::/48'] },
      { number: 20, action: 'allow', direction: 'egress', protocol: 'all' },
      { number: 5, action: 'deny', direction: 'egress', protocol: 'tcp', ports: { start: 25, end: 25 } },
    ],
  };
  const db = {
    id: 'acl-db',
    defaultEgress: 'deny',
    items: [{ number: 1, action: 'allow', direction: 'ingress', protocol: 'tcp', ports: { start: 5432, end: 5432 }, cidrs: ['2001:db8:3:1::/64'] }],
  };

  it('renders items in ascending number, split by direction, with the number in the comment', () => {
    const ruleset = renderRuleset(vpcState([web, db]));
    expect(comments(ruleset, 'ingress_eth2')).toEqual(['acl acl-web item 10', 'acl acl-web item 30', 'default ingress deny']);
    expect(comments(ruleset, 'egress_eth2')).toEqual(['acl acl-web item 5', 'acl acl-web item 20', 'default egress allow']);
    expect(comments(ruleset, 'egress_eth3')).toEqual(['default egress deny']);
  });

  it('first match wins: a low-numbered deny beats a later allow', () => {
    const ruleset = renderRuleset(vpcState([web, db]));
    const ssh = { iif: 'eth1', oif: 'eth2', daddr: '2001:db8:3:1::5', proto: 'tcp' as const, dport: 22 };
    expect(forward(ruleset, { ...ssh, saddr: '2001:db8:bad::1' })).toBe('drop');
    expect(forward(ruleset, { ...ssh, saddr: UPSTREAM_HOST })).toBe('accept');
    expect(forward(ruleset, { iif: 'eth2', oif: 'eth1', saddr: '2001:db8:3:1::5', daddr: UPSTREAM_HOST, proto: 'tcp', dport: 25 })).toBe('drop');
  });

  it('tier-to-tier traffic passes the source egress and the destination ingress', () => {
    const ruleset = renderRuleset(vpcState([web, db]));
    const webToDb: Packet = { iif: 'eth2', oif: 'eth3', saddr: '2001:db8:3:1::5', daddr: '2001:db8:3:2::9', proto: 'tcp', dport: 5432 };
    expect(forward(ruleset, webToDb)).toBe('accept');
    expect(forward(ruleset, { ...webToDb, dport: 5433 })).toBe('drop');
    // db's egress is default deny, so db cannot open a connection to web
    const dbToWeb: Packet = { iif: 'eth3', oif: 'eth2', saddr: '2001:db8:3:2::9', daddr: '2001:db8:3:1::5', proto: 'tcp', dport: 22 };
    expect(forward(ruleset, dbToWeb)).toBe('drop');
    // ...while its replies are established
    expect(forward(ruleset, { ...dbToWeb, dport: 40000, ct: 'established' })).toBe('accept');
  });

  it('a tier whose list is absent from aclLists (refused by the schema) fails closed', () => {
    const state = vpcState([web, db]);
    const broken = { ...state, aclLists: [] };
    const ruleset = renderRuleset(broken);
    expect(forward(ruleset, tcpOut(80, UPSTREAM_HOST))).toBe('drop');
  });
});

describe('rule matches', () => {
  const egressExprs = (rule: object) =>
    chainNamed(renderRuleset(isolatedState({ egress: [rule] })), 'egress_eth2').rules[0]?.expr;
  const l4 = (right: string | number) => ({ match: { op: '==', left: { meta: { key: 'l4proto' } }, right } });
  const payload = (protocol: string, field: string, right: unknown) => ({ match: { op: '==', left: { payload: { protocol, field } }, right } });
  const drop = [{ counter: null }, { drop: null }];

  it('tcp with one port, udp with a range, tcp without ports', () => {
    expect(egressExprs({ protocol: 'tcp', ports: { start: 22, end: 22 } })).toEqual([l4('tcp'), payload('tcp', 'dport', 22), ...drop]);
    expect(egressExprs({ protocol: 'udp', ports: { start: 1000, end: 2000 } })).toEqual([
      l4('udp'),
      payload('udp', 'dport', { range: [1000, 2000] }),
      ...drop,
    ]);
    expect(egressExprs({ protocol: 'tcp' })).toEqual([l4('tcp'), ...drop]);
  });

  it('icmpv6 with type, with type and code, and without either', () => {
    expect(egressExprs({ protocol: 'icmpv6', icmp: { type: 128 } })).toEqual([l4('ipv6-icmp'), payload('icmpv6', 'type', 128), ...drop]);
    expect(egressExprs({ protocol: 'icmpv6', icmp: { type: 1, code: 4 } })).toEqual([
      l4('ipv6-icmp'),
      payload('icmpv6', 'type', 1),
      payload('icmpv6', 'code', 4),
      ...drop,
    ]);
    expect(egressExprs({ protocol: 'icmpv6' })).toEqual([l4('ipv6-icmp'), ...drop]);
  });

  it("'all' matches no protocol; a number is meta l4proto", () => {
    expect(egressExprs({ protocol: 'all' })).toEqual(drop);
    expect(egressExprs({ protocol: 47 })).toEqual([l4(47), ...drop]);
  });

  it('::/0 means any address; one cidr is a prefix; several are an anonymous set without duplicates', () => {
    expect(egressExprs({ protocol: 'all', cidrs: ['::/0'] })).toEqual(drop);
    expect(egressExprs({ protocol: 'all', cidrs: ['2001:db8::/32', '::/0'] })).toEqual(drop);
    expect(egressExprs({ protocol: 'all', cidrs: ['2001:db8::1/48'] })).toEqual([
      payload('ip6', 'daddr', { prefix: { addr: '2001:db8::', len: 48 } }),
      ...drop,
    ]);
    expect(egressExprs({ protocol: 'all', cidrs: ['fd00::/8', '2001:db8::/32', 'fd00::/8'] })).toEqual([
      payload('ip6', 'daddr', { set: [{ prefix: { addr: 'fd00::', len: 8 } }, { prefix: { addr: '2001:db8::', len: 32 } }] }),
      ...drop,
    ]);
  });

  it('ingress matches the source address, egress the destination', () => {
    const ruleset = renderRuleset(isolatedState({ ingress: [{ protocol: 'all', cidrs: ['fd00::/8'] }], egress: [{ protocol: 'all', cidrs: ['fd00::/8'] }] }));
    const field = (chain: string) => (chainNamed(ruleset, chain).rules[0]?.expr[0] as NftMatch).match.left;
    expect(field('ingress_eth2')).toEqual({ payload: { protocol: 'ip6', field: 'saddr' } });
    expect(field('egress_eth2')).toEqual({ payload: { protocol: 'ip6', field: 'daddr' } });
  });
});

describe('anti-spoofing', () => {
  const second = { id: 'net-b', interface: 'eth3', prefix: 'fd00:2::/64' };

  it('drops what a guest sends from outside its prefix, and guest sources arriving from upstream', () => {
    const ruleset = renderRuleset(isolatedState(undefined, [second]));
    expect(forward(ruleset, { ...tcpOut(80), saddr: 'fd00:2::5' })).toBe('drop');
    expect(forward(ruleset, { ...tcpOut(80), saddr: 'fd00:2::5', ct: 'established' })).toBe('drop');
    expect(forward(ruleset, { ...tcpIn(22, 'fd00:2::5'), ct: 'established' })).toBe('drop');
    expect(forward(ruleset, { ...tcpIn(22, GUEST_A), ct: 'related' })).toBe('drop');
    expect(forward(ruleset, { ...tcpIn(22), ct: 'established' })).toBe('accept');
  });

  it('uses a prefix for one network and an anonymous set for several, before conntrack', () => {
    const withoutUsage = (rules: readonly NftRule[]) => rules.filter((r) => !r.comment?.startsWith('usage '));
    const one = withoutUsage(chainNamed(renderRuleset(isolatedState()), 'forward').rules);
    expect(one[1]?.expr[1]).toEqual({
      match: { op: '==', left: { payload: { protocol: 'ip6', field: 'saddr' } }, right: { prefix: { addr: '2001:db8:1:1::', len: 64 } } },
    });
    const two = withoutUsage(chainNamed(renderRuleset(isolatedState(undefined, [second])), 'forward').rules);
    expect(two.slice(0, 4).map((r) => r.comment)).toEqual(['anti-spoofing network net-a', 'anti-spoofing network net-b', 'anti-spoofing upstream', undefined]);
    expect((two[2]?.expr[1] as NftMatch).match.right).toEqual({
      set: [{ prefix: { addr: '2001:db8:1:1::', len: 64 } }, { prefix: { addr: 'fd00:2::', len: 64 } }],
    });
    expect(two[0]?.expr[1]).toMatchObject({ match: { op: '!=' } });
  });

  it('renders no anti-spoofing and no upstream rule without guest networks', () => {
    const state = DesiredState.parse({ schemaVersion: 1, router: { id: 'r', kind: 'isolated' }, public: PUBLIC });
    const rules = chainNamed(renderRuleset(state), 'forward').rules;
    expect(rules.map((r) => r.comment)).toEqual([undefined, 'ct invalid', 'rfc4890 4.3.1: errors', 'rfc4890 4.3: icmpv6 other than echo request']);
  });
});

describe('forward chain', () => {
  it('dispatches by verdict map: egress chains by input interface, then ingress chains by output interface, then upstream', () => {
    const ruleset = renderRuleset(isolatedState(undefined, [{ id: 'net-b', interface: 'eth3', prefix: 'fd00:2::/64' }]));
    const tail = chainNamed(ruleset, 'forward').rules.slice(-3);
    const summary = tail.map((r) =>
      r.expr.flatMap((e) => ('vmap' in e ? [`${e.vmap.key.meta.key}: ${e.vmap.data.set.map(([k, v]) => `${k}>${'jump' in v ? v.jump.target : '?'}`).join(' ')}`] : 'accept' in e ? ['accept'] : [])),
    );
    expect(summary).toEqual([['iifname: eth2>egress_eth2 eth3>egress_eth3'], ['oifname: eth2>ingress_eth2 eth3>ingress_eth3'], ['accept']]);
  });

  it('sends nothing upstream from an interface that is not a guest network', () => {
    const ruleset = renderRuleset(isolatedState());
    expect(forward(ruleset, { ...tcpOut(80), iif: 'eth0', saddr: '2001:db8:9::1' })).toBe('drop');
  });

  it('forwards ICMPv6 errors and echo request only', () => {
    const ruleset = renderRuleset(isolatedState({ ingress: [{ protocol: 'all' }] }));
    const icmp = (icmpType: number, icmpCode = 0): Packet => ({ iif: 'eth1', oif: 'eth2', saddr: UPSTREAM_HOST, daddr: GUEST_A, proto: 'ipv6-icmp', icmpType, icmpCode });
    for (const type of [1, 2, 3, 4]) expect(forward(ruleset, icmp(type, 3))).toBe('accept');
    expect(forward(ruleset, icmp(128))).toBe('accept');
    for (const type of [129, 130, 133, 134, 135, 136, 137, 138, 139, 143, 144, 150, 200, 255]) {
      expect(forward(ruleset, icmp(type)), `type ${type}`).toBe('drop');
    }
  });
});

describe('input chain', () => {
  const ruleset = renderRuleset(isolatedState());

  it('accepts ND only with hop limit 255, and MLD only from link-local sources', () => {
    for (const type of [133, 134, 135, 136]) {
      expect(input(ruleset, icmpTo('eth2', type))).toBe('accept');
      expect(input(ruleset, icmpTo('eth2', type, { hoplimit: 254 }))).toBe('drop');
    }
    for (const type of [130, 131, 132, 143]) {
      expect(input(ruleset, icmpTo('eth2', type))).toBe('accept');
      expect(input(ruleset, icmpTo('eth2', type, { saddr: GUEST_A }))).toBe('drop');
    }
  });

  it('follows RFC 4890 §4.4 for the other types', () => {
    for (const type of [141, 142, 148, 149, 151, 152, 153, 128, 129, 1, 2]) expect(input(ruleset, icmpTo('eth2', type)), `type ${type}`).toBe('accept');
    expect(input(ruleset, icmpTo('eth2', 3, { icmpCode: 1 }))).toBe('accept');
    expect(input(ruleset, icmpTo('eth2', 4, { icmpCode: 2 }))).toBe('accept');
    expect(input(ruleset, icmpTo('eth2', 4, { icmpCode: 3 }))).toBe('drop');
    for (const type of [137, 138, 139, 140, 144, 147, 100, 200]) expect(input(ruleset, icmpTo('eth2', type)), `type ${type}`).toBe('drop');
    const redirect = chainNamed(ruleset, 'input').rules.find((r) => r.comment?.includes('redirect'));
    expect(redirect?.expr.slice(-2)).toEqual([{ counter: null }, { drop: null }]);
  });

  it('accepts inverse ND, SEND and MRD although conntrack calls them invalid; drops redirects by name', () => {
    // measured on kernel 6.18: 141, 142, 148, 149, 153 and 137 arrive as ct state invalid
    for (const type of [141, 142, 148, 149, 151, 152, 153]) {
      expect(input(ruleset, icmpTo('eth2', type, { ct: 'invalid' })), `type ${type}`).toBe('accept');
    }
    const rules = chainNamed(ruleset, 'input').rules;
    const redirectIndex = rules.findIndex((r) => r.comment === 'rfc4890 4.4.4: redirect');
    expect(redirectIndex).toBeGreaterThan(0);
    expect(redirectIndex).toBeLessThan(rules.findIndex((r) => r.comment === 'ct invalid'));
    expect(input(ruleset, icmpTo('eth2', 1, { ct: 'invalid' }))).toBe('drop');
  });

  it('accepts loopback and established traffic, drops invalid', () => {
    expect(input(ruleset, { iif: 'lo', saddr: '::1', daddr: '::1', proto: 'tcp', dport: 1 })).toBe('accept');
    expect(input(ruleset, { ...tcpIn(53), ct: 'established' })).toBe('accept');
    expect(input(ruleset, { ...icmpTo('eth2', 135), ct: 'invalid' })).toBe('drop');
    expect(input(ruleset, tcpIn(53))).toBe('drop');
  });
});

describe('counters', () => {
  it('precede every drop', () => {
    const state = vpcState([
      { id: 'acl-web', defaultEgress: 'deny', items: [{ number: 1, action: 'deny', direction: 'ingress', protocol: 'all' }] },
      { id: 'acl-db', items: [{ number: 1, action: 'deny', direction: 'egress', protocol: 'udp' }] },
    ]);
    const rules = allExprs(renderRuleset(state));
    const drops = rules.filter((expr) => expr.some((e) => 'drop' in e));
    expect(drops.length).toBeGreaterThan(8);
    for (const expr of drops) expect(expr.slice(-2)).toEqual([{ counter: null }, { drop: null }]);
  });
});

describe('renderRulesetDocument', () => {
  const state = vpcState([{ id: 'acl-web' }, { id: 'acl-db' }]);
  const ruleset = renderRuleset(state);
  const document = renderRulesetDocument(ruleset);

  it('replaces only our table, in one batch: add, delete, add, counters, chains, rules', () => {
    const commands = document.nftables as unknown as Record<string, Record<string, Record<string, unknown>>>[];
    expect(commands.slice(0, 4)).toEqual([
      { metainfo: { json_schema_version: 1 } },
      { add: { table: { family: 'ip6', name: 'vr6_agent' } } },
      { delete: { table: { family: 'ip6', name: 'vr6_agent' } } },
      { add: { table: { family: 'ip6', name: 'vr6_agent' } } },
    ]);
    const kinds = commands.slice(4).map((c) => Object.keys(c.add ?? {})[0]);
    const firstChain = kinds.indexOf('chain');
    const firstRule = kinds.indexOf('rule');
    expect(kinds.slice(0, firstChain).every((k) => k === 'counter')).toBe(true);
    expect(kinds.slice(firstChain, firstRule).every((k) => k === 'chain')).toBe(true);
    expect(kinds.slice(firstRule).every((k) => k === 'rule')).toBe(true);
    for (const command of commands.slice(1)) {
      expect(Object.keys(command)).not.toContain('flush');
      const body = Object.values(Object.values(command)[0] ?? {})[0] ?? {};
      expect(body.family).toBe(RULESET_TABLE.family);
      expect(body.table ?? body.name).toBe(RULESET_TABLE.name);
    }
  });

  it('spells base chains and rules as libnftables does', () => {
    const commands = document.nftables as unknown as Record<string, Record<string, unknown>>[];
    expect(commands).toContainEqual({
      add: { chain: { family: 'ip6', table: 'vr6_agent', name: 'input', type: 'filter', hook: 'input', prio: 0, policy: 'drop' } },
    });
    expect(commands).toContainEqual({ add: { counter: { family: 'ip6', table: 'vr6_agent', name: 'usage_egress_eth2' } } });
    expect(commands).toContainEqual({ add: { chain: { family: 'ip6', table: 'vr6_agent', name: 'egress_eth2' } } });
    const dispatch = chainNamed(ruleset, 'forward').rules.find((r) => r.comment === 'egress by network');
    expect(commands).toContainEqual({ add: { rule: { family: 'ip6', table: 'vr6_agent', chain: 'forward', comment: 'egress by network', expr: dispatch?.expr } } });
  });

  it('is deterministic and independent of the order of the networks', () => {
    const reordered = vpcState([{ id: 'acl-db' }, { id: 'acl-web' }], [
      { id: 'db', interface: 'eth3', prefix: '2001:db8:3:2::/64', aclId: 'acl-db' },
      { id: 'web', interface: 'eth2', prefix: '2001:db8:3:1::/64', aclId: 'acl-web' },
    ]);
    const text = JSON.stringify(document);
    expect(JSON.stringify(renderRulesetDocument(renderRuleset(state)))).toBe(text);
    expect(JSON.stringify(renderRulesetDocument(renderRuleset(reordered)))).toBe(text);
  });
});

describe("the VR's own services and routed prefixes", () => {
  const withServices = renderRuleset(isolatedState(undefined, [
    {
      id: 'net-b',
      interface: 'eth3',
      prefix: '2001:db8:1:2::/64',
      vrServices: [{ protocol: 'udp', port: 53 }, { protocol: 'tcp', port: 53 }],
      routedPrefixes: ['2001:db8:77::/48'],
    },
  ]));
  const dns = (iif: string, proto: 'tcp' | 'udp', saddr = '2001:db8:1:2::9'): Packet => ({ iif, saddr, daddr: '2001:db8:1:2::1', proto, dport: 53 });

  it('accepts a service only on the interfaces that enable it', () => {
    expect(input(withServices, dns('eth3', 'udp'))).toBe('accept');
    expect(input(withServices, dns('eth3', 'tcp'))).toBe('accept');
    expect(input(withServices, dns('eth2', 'udp', GUEST_A))).toBe('drop');
    expect(input(withServices, dns('eth1', 'udp', UPSTREAM_HOST))).toBe('drop');
    expect(input(withServices, { ...dns('eth3', 'tcp'), dport: 22 })).toBe('drop');
  });

  it('takes a routed prefix as a valid source from its network, and from nowhere else', () => {
    const fromRouted = { iif: 'eth3', oif: 'eth1', saddr: '2001:db8:77::5', daddr: UPSTREAM_HOST, proto: 'tcp' as const, dport: 443 };
    expect(forward(withServices, fromRouted)).toBe('accept');
    expect(forward(withServices, { ...fromRouted, iif: 'eth2' })).toBe('drop');
    expect(forward(withServices, { ...fromRouted, iif: 'eth1', oif: 'eth3', ct: 'established' })).toBe('drop');
  });
});

describe('anti-spoofing on input', () => {
  const ruleset = renderRuleset(isolatedState());
  const toVr = (iif: string, saddr: string, extra: Partial<Packet> = {}): Packet => ({
    iif,
    saddr,
    daddr: '2001:db8:1:1::1',
    proto: 'ipv6-icmp',
    icmpType: 128,
    ...extra,
  });

  it('drops what a guest sends to the VR from a forged source, so the VR reflects nothing', () => {
    expect(input(ruleset, toVr('eth2', GUEST_A))).toBe('accept');
    expect(input(ruleset, toVr('eth2', UPSTREAM_HOST))).toBe('drop');
    expect(input(ruleset, toVr('eth1', GUEST_A))).toBe('drop');
    expect(input(ruleset, toVr('eth1', UPSTREAM_HOST))).toBe('accept');
  });

  it('lets ND from link-local sources and DAD from :: through', () => {
    expect(input(ruleset, toVr('eth2', 'fe80::5', { icmpType: 135, hoplimit: 255, daddr: 'ff02::1:ff00:1' }))).toBe('accept');
    expect(input(ruleset, toVr('eth2', '::', { icmpType: 135, hoplimit: 255, daddr: 'ff02::1:ff00:1' }))).toBe('accept');
  });
});
