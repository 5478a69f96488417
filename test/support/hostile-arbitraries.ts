import fc from 'fast-check';

/**
 * fast-check arbitraries for hostile-input testing (docs/reliability.md §4):
 * desired states shaped like the schema, so that many are accepted, the same
 * states with one value replaced by something hostile, and plain garbage.
 * Shared by the soak campaign (real nft, radvd, vtysh) and the unit tests.
 */

/** Interface names the schema accepts; the campaign's in-memory host has a link for each. */
export const INTERFACE_POOL = ['eth1', 'eth2', 'eth3', 'eth4', 'eth5', 'ens3', 'ens192', 'bond0.100', 'br-guest', 'veth_a1', 'abcdefghijklmno'];

/**
 * Values that must never reach a config unescaped: line breaks, braces,
 * quotes, the comment characters of radvd.conf (#), frr.conf (!) and the
 * statement end of radvd (;), spaces, long tokens, unicode, shell syntax.
 */
export const HOSTILE_STRINGS: readonly string[] = [
  'eth2\ninterface evil',
  'eth2\n}',
  'eth2\r',
  'eth2 ',
  ' eth2',
  'eth 2',
  'eth2;',
  'eth2#x',
  '#eth2',
  '!eth2',
  'eth2!',
  'eth2{',
  '}',
  '"eth2"',
  "eth2'",
  'eth2\t',
  'eth2\u0000',
  'eth2\u2028',
  'éth2',
  'eth２',
  '💥',
  '-eth2',
  '0',
  '8',
  '12.34',
  'on',
  'prefix',
  'interface',
  '$(reboot)',
  '`id`',
  '../../etc/passwd',
  'a'.repeat(16),
  'a'.repeat(4096),
  '',
  'cloud.example.com\nipv6 forwarding',
  'cloud.example.com { AdvDNSSLLifetime 0; }',
  'cloud.example.com"',
  "cloud'example.com",
  'cloud.example.com;',
  'cloud.example.com #x',
  'cloud.example.com!',
  'clöud.example.com',
  `${'a'.repeat(64)}.example.com`,
  `${'abcdefghi.'.repeat(26)}com`,
  '2001:db8::1\n',
  '2001:db8::1 2001:db8::2',
  '2001:db8::/64;',
  'fe80::1%eth0',
  '10.0.0.1',
  '::ffff:192.0.2.1',
];

/** Any hostile value: a hostile string, an out-of-range or odd number, or a wrong shape. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.constantFrom(...HOSTILE_STRINGS), weight: 6 },
  fc.constantFrom(-1, 0, 1.5, 2 ** 32, 2 ** 53, Number.MAX_VALUE, 1e308 * 10),
  fc.constantFrom(null, true, [], {}, [[]], { __proto__: null }, '0', 'NaN'),
  fc.string({ unit: 'binary', maxLength: 40 }),
);

const hex = (max: number) => fc.integer({ min: 0, max }).map((n) => n.toString(16));
const address = fc.oneof(
  fc.tuple(hex(0xffff), hex(0xffff)).map(([a, b]) => `2001:db8:${a}::${b}`),
  hex(0xffff).map((n) => `fe80::${n}`),
);
// Routed prefixes and RA routes live in 2001:db8:c8::/40 and up, away from guests (2001:db8:0-3::) and the public /64.
const farCidr = fc.tuple(fc.integer({ min: 200, max: 0xfff0 }), hex(0xffff), fc.integer({ min: 40, max: 128 })).map(([a, b, len]) => `2001:db8:${a.toString(16)}:${b}::/${len}`);
const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/);
const domain = fc.oneof(
  fc.tuple(fc.array(label, { minLength: 1, maxLength: 4 }), fc.boolean()).map(([labels, isRooted]) => `${labels.join('.')}${isRooted ? '.' : ''}`),
  fc.constantFrom('cloud.example.com', 'xn--bcher-kva.example', `${'a'.repeat(63)}.example.com`, '123.example', 'a-b.c-d'),
);
const port = fc.integer({ min: 0, max: 65535 });
const portRange = fc.tuple(port, port).map(([a, b]) => ({ start: Math.min(a, b), end: Math.max(a, b) }));
const cidrs = fc.array(fc.oneof(fc.constant('::/0'), farCidr, address.map((a) => `${a}/128`)), { minLength: 1, maxLength: 3 });

const match = fc.oneof(
  fc.record({ protocol: fc.constantFrom('tcp', 'udp'), ports: portRange, cidrs }, { requiredKeys: ['protocol'] }),
  fc.record({ protocol: fc.constant('icmpv6'), icmp: fc.record({ type: fc.integer({ min: 0, max: 255 }), code: fc.integer({ min: 0, max: 255 }) }, { requiredKeys: ['type'] }), cidrs }, { requiredKeys: ['protocol'] }),
  fc.record({ protocol: fc.oneof(fc.constant('all'), fc.integer({ min: 2, max: 255 })), cidrs }, { requiredKeys: ['protocol'] }),
);
const firewallRule = fc.tuple(match, fc.option(fc.stringMatching(/^[a-z0-9][a-z0-9_.:-]{0,20}$/), { nil: undefined })).map(([m, id]) => (id === undefined ? m : { id, ...m }));

/** RA settings within the documented ranges; the cross-field rules hold most of the time. */
const raSettings = fc
  .record({
    maxIntervalSeconds: fc.integer({ min: 4, max: 1800 }),
    minShare: fc.double({ min: 0, max: 0.8, noNaN: true }),
    routerLifetime: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 9000 })),
    validLifetimeSeconds: fc.oneof(fc.constantFrom(0, 86400, 0xffffffff), fc.integer({ min: 0, max: 0xffffffff })),
    preferredShare: fc.double({ min: 0, max: 1, noNaN: true }),
    dnsServers: fc.array(address, { maxLength: 3 }),
    searchDomains: fc.array(domain, { maxLength: 4 }),
    mtu: fc.option(fc.integer({ min: 1280, max: 65535 }), { nil: undefined }),
    dnsShare: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
    // RFC 8106: 0, or from Max up to infinity, each option its own.
    dnsLifetimes: fc.option(fc.tuple(...[0, 1].map(() => fc.oneof(fc.constantFrom(0, 0xffffffff), fc.integer({ min: 0, max: 0xffffffff })))), { nil: undefined }),
    routes: fc.array(fc.record({ prefix: farCidr, preference: fc.constantFrom('low', 'medium', 'high'), lifetimeSeconds: fc.integer({ min: 0, max: 0xffffffff }) }, { requiredKeys: ['prefix'] }), { maxLength: 2 }),
  })
  .map((r) => {
    const max = r.maxIntervalSeconds;
    const ra: Record<string, unknown> = {
      maxIntervalSeconds: max,
      minIntervalSeconds: Math.max(3, Math.floor(max * r.minShare)),
      routerLifetimeSeconds: r.routerLifetime === 0 ? 0 : Math.min(9000, max + r.routerLifetime),
      validLifetimeSeconds: r.validLifetimeSeconds,
      preferredLifetimeSeconds: Math.floor(r.validLifetimeSeconds * r.preferredShare),
      dnsServers: r.dnsServers,
      searchDomains: r.searchDomains,
      routes: r.routes,
    };
    if (r.mtu !== undefined) ra.mtu = r.mtu;
    if (r.dnsLifetimes !== undefined) {
      [ra.rdnssLifetimeSeconds, ra.dnsslLifetimeSeconds] = r.dnsLifetimes.map((lifetime) => (lifetime === 0 ? 0 : Math.max(max, lifetime)));
    } else if (r.dnsShare !== undefined) {
      // The superseded field, which sets both.
      ra.dnsLifetimeSeconds = r.dnsShare < 0.1 ? 0 : Math.round(max * (1 + r.dnsShare));
    }
    return ra;
  });

function guestNetwork(index: number, kind: 'isolated' | 'vpc', ifname: string) {
  return fc
    .record({
      subnet: hex(0xffff),
      gatewayId: fc.option(fc.integer({ min: 1, max: 0xffff }), { nil: undefined }),
      ra: fc.option(raSettings, { nil: undefined }),
      firewall: fc.record({ defaultEgress: fc.constantFrom('allow', 'deny'), ingress: fc.array(firewallRule, { maxLength: 4 }), egress: fc.array(firewallRule, { maxLength: 4 }) }, { requiredKeys: [] }),
      aclId: fc.constantFrom('acl-0', 'acl-1'),
      vrServices: fc.array(fc.record({ protocol: fc.constantFrom('tcp', 'udp'), port }), { maxLength: 3 }),
      routedPrefixes: fc.array(farCidr, { maxLength: 2 }),
    })
    .map((n) => {
      const prefix = `2001:db8:${index}:${n.subnet}::`;
      const network: Record<string, unknown> = { id: `net-${index}`, interface: ifname, prefix: `${prefix}/64`, vrServices: n.vrServices, routedPrefixes: n.routedPrefixes };
      if (n.gatewayId !== undefined) network.gateway = `${prefix}${n.gatewayId.toString(16)}`;
      if (n.ra !== undefined) network.ra = n.ra;
      if (kind === 'isolated') network.firewall = n.firewall;
      else network.aclId = n.aclId;
      return network;
    });
}

const aclList = (id: string) =>
  fc
    .record({ defaultEgress: fc.constantFrom('allow', 'deny'), numbers: fc.uniqueArray(fc.integer({ min: 1, max: 2 ** 31 - 1 }), { maxLength: 5 }) })
    .chain(({ defaultEgress, numbers }) =>
      fc.tuple(...numbers.map((number) => fc.tuple(match, fc.constantFrom('allow', 'deny'), fc.constantFrom('ingress', 'egress')).map(([m, action, direction]) => ({ number, action, direction, ...m })))).map((items) => ({ id, defaultEgress, items })),
    );

const publicInterface = fc.oneof(
  fc.record({ interface: fc.constant('eth1'), mode: fc.constant('slaac'), expectedPrefix: fc.constant('2001:db8:ffff:1::/64') }, { requiredKeys: ['interface'] }),
  fc.record({
    interface: fc.constant('eth1'),
    mode: fc.constant('static'),
    address: hex(0xffff).map((n) => `2001:db8:ffff:1::${n}/64`),
    gateway: fc.constantFrom('fe80::1', '2001:db8:ffff:1::1'),
    expectedPrefix: fc.constant('2001:db8:ffff:1::/64'),
  }, { requiredKeys: ['interface', 'mode', 'address', 'gateway'] }),
);

/**
 * A BGP routing section for `count` guest networks (guest i is in
 * 2001:db8:i::/48): peers on the public /64 or further away, with and
 * without the options, and aggregates over the guests; the cross-field rules
 * hold most of the time.
 */
const bgpPeer = fc.record(
  {
    host: hex(0xffff),
    isFar: fc.boolean(),
    // Valid ASs: the reserved ones are the unit tests' (test/unit/routing-schema.test.ts), and the mutations put hostile numbers here.
    remoteAs: fc.oneof(fc.integer({ min: 1, max: 4294967294 }).filter((as) => as !== 23456 && as !== 65535), fc.constant(65000)),
    description: fc.stringMatching(/^[A-Za-z0-9 _.:@/-]{0,20}$/), // empty, spaced and folded ones are refused
    password: fc.stringMatching(/^[\x21-\x7e]{1,80}$/),
    ttlSecurityHops: fc.integer({ min: 1, max: 254 }),
    holdTimeSeconds: fc.oneof(fc.constant(0), fc.integer({ min: 3, max: 65535 })),
    bfd: fc.record({ receiveIntervalMs: fc.integer({ min: 10, max: 60000 }), transmitIntervalMs: fc.integer({ min: 10, max: 60000 }), detectMultiplier: fc.integer({ min: 2, max: 255 }) }, { requiredKeys: [] }),
    hasGracefulRestart: fc.boolean(),
    accept: fc.constantFrom('nothing', 'default-route'),
    maxPrefixes: fc.integer({ min: 1, max: 1000 }),
  },
  { requiredKeys: ['host', 'isFar', 'remoteAs'] },
);

function routingFor(count: number) {
  return fc
    .record({
      localAs: fc.oneof(fc.integer({ min: 1, max: 4294967294 }), fc.constant(65010)),
      routerId: fc.tuple(fc.integer({ min: 1, max: 223 }), fc.integer({ min: 0, max: 255 })).map(([a, b]) => `${a}.0.2.${b}`),
      peers: fc.array(bgpPeer, { minLength: 1, maxLength: 2 }),
      // Mostly /48, each guest's own; other lengths overlap or miss the guests and are refused.
      lengths: fc.array(fc.oneof({ arbitrary: fc.constant(48), weight: 15 }, fc.integer({ min: 40, max: 64 })), { minLength: count, maxLength: count }),
      guestPrefixes: fc.boolean(),
    })
    .map(({ localAs, routerId, peers, lengths, guestPrefixes }) => ({
      protocol: 'bgp',
      bgp: {
        localAs,
        routerId,
        peers: peers.map(({ host, isFar, ttlSecurityHops, ...peer }) =>
          // GTSM is for a neighbour one hop away; one further away is multihop instead.
          isFar ? { ...peer, address: `2001:db8:fe::${host}`, multihopTtl: 2 } : { ...peer, address: `2001:db8:ffff:1::${host}`, ...(ttlSecurityHops ? { ttlSecurityHops } : {}) },
        ),
        announce: { aggregates: lengths.map((length, i) => `2001:db8:${i}::/${length}`), guestPrefixes },
      },
    }));
}

/**
 * A redundancy section for a state of {@link desiredStateShaped}: the sync
 * link mostly its own (sometimes one of the pool's, which a guest or the
 * public link may use, and is then refused), a shared public address on the public /64, and sometimes a
 * link-local gateway of its own for guest network `net-0`.
 */
export const redundancySection: fc.Arbitrary<Record<string, unknown>> = fc
  .record({
    vrrpId: fc.integer({ min: 1, max: 255 }),
    priority: fc.integer({ min: 1, max: 254 }),
    advertisementIntervalCentiseconds: fc.oneof(fc.constantFrom(1, 10, 100, 4095), fc.integer({ min: 1, max: 4095 })),
    preempt: fc.boolean(),
    preemptDelaySeconds: fc.option(fc.oneof(fc.constantFrom(0, 1000), fc.integer({ min: 0, max: 1000 })), { nil: undefined }),
    // Mostly a link of its own; now and then one the state already uses, which is refused.
    syncInterface: fc.oneof({ arbitrary: fc.constant('eth9'), weight: 4 }, { arbitrary: fc.constantFrom(...INTERFACE_POOL), weight: 1 }),
    host: hex(0xffff),
    gateway: fc.option(hex(0xffff).map((n) => `fe80::${n}`), { nil: undefined }),
    stateSync: fc.boolean(),
  })
  .map(({ syncInterface, host, gateway, ...rest }) => ({
    ...rest,
    peer: { interface: syncInterface, localAddress: 'fd00:5::1/64', address: 'fd00:5::2' },
    publicAddress: `2001:db8:ffff:1::1:${host}/64`,
    virtualGateways: gateway === undefined ? [] : [{ networkId: 'net-0', linkLocal: gateway }],
  }));

/** A desired state shaped like schema v1: most are accepted, some break a cross-field rule. */
export const desiredStateShaped: fc.Arbitrary<Record<string, unknown>> = fc
  .record({
    routerId: fc.constantFrom('r-1-VM', 'r-42-VM', '7f3c-uuid'),
    kind: fc.constantFrom('isolated', 'vpc'),
    count: fc.integer({ min: 0, max: 4 }),
    raBackend: fc.option(fc.constantFrom('radvd', 'frr'), { nil: undefined }),
    public: publicInterface,
    // A third of the states route by BGP.
    hasBgp: fc.integer({ min: 0, max: 2 }).map((n) => n === 0),
  })
  .chain((base) =>
    fc
      .shuffledSubarray(INTERFACE_POOL.slice(1), { minLength: base.count, maxLength: base.count })
      .chain((ifnames) =>
        fc.tuple(fc.tuple(...ifnames.map((ifname, i) => guestNetwork(i, base.kind, ifname))), fc.tuple(aclList('acl-0'), aclList('acl-1')), routingFor(ifnames.length)),
      )
      .map(([networks, lists, routing]) => {
        const state: Record<string, unknown> = { schemaVersion: 1, router: { id: base.routerId, kind: base.kind }, public: base.public, guestNetworks: networks };
        if (base.raBackend !== undefined) state.raBackend = base.raBackend;
        if (base.hasBgp) state.routing = routing;
        if (base.kind === 'vpc') state.aclLists = lists;
        return state;
      }),
  );

type Json = Record<string, unknown> | unknown[];

/** Every path to a value inside a JSON tree, the root excluded. */
function pathsOf(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (value === null || typeof value !== 'object') return [];
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  return entries.flatMap(([key, child]) => [[...prefix, key], ...pathsOf(child, [...prefix, key])]);
}

/** The state with one value replaced by a hostile one, one key removed or one unknown key added. */
export const desiredStateMutated: fc.Arbitrary<unknown> = fc
  .tuple(desiredStateShaped, fc.nat(), fc.constantFrom('replace', 'replace', 'replace', 'remove', 'add-key', 'duplicate'), hostileValue)
  .map(([state, pick, action, value]) => {
    const copy = structuredClone(state);
    const paths = pathsOf(copy);
    const path = paths[pick % paths.length] ?? ['schemaVersion'];
    const parent = path.slice(0, -1).reduce<Json>((node, key) => (node as Record<string | number, Json>)[key]!, copy);
    const key = path[path.length - 1]!;
    const slot = parent as Record<string | number, unknown>;
    if (action === 'replace') slot[key] = value;
    else if (action === 'remove') Array.isArray(parent) ? parent.splice(Number(key), 1) : delete slot[key];
    else if (action === 'duplicate' && Array.isArray(parent)) parent.push(structuredClone(parent[Number(key)]));
    else if (typeof slot[key] === 'object' && slot[key] !== null && !Array.isArray(slot[key])) (slot[key] as Record<string, unknown>)[unknownKeyFor(value)] = value;
    else slot[key] = value;
    return copy;
  });

// A key for an added unknown field. String(value) throws for objects that have no usable toString
// (a null prototype, or a "toString" key from fc.jsonValue), as seed 393244445 found.
function unknownKeyFor(value: unknown): string {
  return typeof value === 'string' ? value.slice(0, 20) || 'x' : `x-${typeof value}`;
}

/** Anything at all in place of a spec. */
export const desiredStateGarbage: fc.Arbitrary<unknown> = fc.oneof(fc.jsonValue({ maxDepth: 4 }), hostileValue);

/** A spec to push: mostly schema-shaped, often mutated, sometimes garbage. */
export const desiredSpec: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: desiredStateShaped, weight: 8 },
  { arbitrary: desiredStateMutated, weight: 3 },
  { arbitrary: desiredStateGarbage, weight: 1 },
);

/** How a pushed generation relates to the last accepted one. */
export type GenerationMode = 'next' | 'same' | 'stale';

/** One server → agent frame: a desired push (its generation chosen at send time), a reconcile, or a bad frame. */
export type ServerFrame =
  | { readonly kind: 'desired'; readonly mode: GenerationMode; readonly spec: unknown }
  | { readonly kind: 'text'; readonly text: string };

const badFrameText = fc.oneof(
  fc.constant('{"type":"reconcile"}'),
  fc.constantFrom(
    '{"type":"reconcile","extra":1}',
    '{"type":"desired","generation":0,"spec":{}}',
    '{"type":"desired","generation":-1,"spec":{}}',
    '{"type":"desired","generation":1.5,"spec":{}}',
    '{"type":"desired","generation":"2","spec":{}}',
    '{"type":"desired","generation":9007199254740992,"spec":{}}',
    '{"type":"desired","spec":{}}',
    '{"type":"hello","protocolVersion":1}',
    '{"type":"ack","generation":1,"status":"accepted","errors":[]}',
    '{"type":"__proto__"}',
    '{"__proto__":{"type":"reconcile"}}',
    '{"type":"desired","generation":1,"spec":{"__proto__":{"polluted":true},"schemaVersion":1}}',
    'null',
    '[]',
    '',
    '\uFEFF{"type":"reconcile"}',
    '{"type":"reconcile"',
  ),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.string({ unit: 'binary', maxLength: 80 }),
);

/** Frames as a hostile or broken management server may send them. */
export const serverFrame: fc.Arbitrary<ServerFrame> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('desired' as const), mode: fc.constantFrom<GenerationMode>('next', 'next', 'next', 'next', 'next', 'same', 'stale'), spec: desiredSpec }), weight: 8 },
  { arbitrary: badFrameText.map((text) => ({ kind: 'text' as const, text })), weight: 2 },
);
