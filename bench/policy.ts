/**
 * A deterministic, seeded generator of a large VPC desired state for the
 * firewall benchmark (bench/README.md): N tiers on interfaces t0..tN-1
 * with prefixes 2001:db8:1:<n>::/64, one ACL list per tier, and a realistic
 * mix of items. Same options, byte-identical output. The result is the raw
 * JSON a management server would push; parse it with DesiredState.
 *
 * Addresses come only from 2001:db8::/32 (RFC 3849).
 */

/** What to generate. */
export interface PolicyOptions {
  readonly seed: number;
  readonly tiers: number;
  readonly itemsPerList: number;
}

/** The benchmark's policy: 50 tiers, 50 lists, 10,000 items. */
export const BENCH_POLICY: PolicyOptions = { seed: 20240603, tiers: 50, itemsPerList: 200 };

/** A seeded PRNG (mulberry32): uniform in [0, 1). */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Random = () => number;

function pick<T>(random: Random, values: readonly T[]): T {
  const value = values[Math.floor(random() * values.length)];
  if (value === undefined) throw new Error('pick from an empty list');
  return value;
}

function between(random: Random, low: number, high: number): number {
  return low + Math.floor(random() * (high - low + 1));
}

/** Picks a value by weight: [[weight, value], ...]. */
function weighted<T>(random: Random, choices: readonly (readonly [number, T])[]): T {
  const total = choices.reduce((sum, [weight]) => sum + weight, 0);
  let roll = random() * total;
  for (const [weight, value] of choices) {
    roll -= weight;
    if (roll < 0) return value;
  }
  const last = choices[choices.length - 1];
  if (last === undefined) throw new Error('weighted pick from an empty list');
  return last[1];
}

const COMMON_TCP_PORTS = [22, 25, 53, 80, 110, 143, 443, 465, 587, 993, 995, 1433, 3306, 3389, 5432, 5672, 6379, 8080, 8443, 9000, 9090, 9200, 27017];
const COMMON_UDP_PORTS = [53, 67, 123, 161, 500, 514, 1194, 1812, 4500, 5060, 51820];
const ICMP_TYPES = [128, 128, 128, 1, 2, 3, 4, 129];

/** A prefix of length 48-128 inside 2001:db8::/32; sometimes inside one of the tiers' /64s. */
function randomCidr(random: Random, tiers: number): string {
  const groups = [0x2001, 0x0db8, 0, 0, 0, 0, 0, 0];
  const isTierLocal = random() < 0.3;
  const length = isTierLocal ? pick(random, [64, 64, 80, 96, 112, 120, 128]) : pick(random, [48, 48, 52, 56, 56, 60, 64, 64, 64, 96, 128, 128]);
  if (isTierLocal) {
    groups[2] = 1;
    groups[3] = Number.parseInt(String(between(random, 0, tiers - 1)), 16);
  } else {
    groups[2] = between(random, 0x100, 0xffff);
    groups[3] = between(random, 0, 0xffff);
  }
  for (let i = 4; i < 8; i++) groups[i] = between(random, 0, 0xffff);
  const masked = groups.map((group, index) => {
    const keep = Math.max(0, Math.min(16, length - index * 16));
    return keep === 0 ? 0 : group & (0xffff << (16 - keep)) & 0xffff;
  });
  return `${masked.map((group) => group.toString(16)).join(':')}/${length}`;
}

function randomCidrs(random: Random, tiers: number): string[] | undefined {
  const count = weighted(random, [
    [40, 0],
    [40, 1],
    [12, between(random, 2, 3)],
    [8, between(random, 4, 8)],
  ]);
  if (count === 0) return random() < 0.5 ? undefined : ['::/0'];
  return Array.from({ length: count }, () => randomCidr(random, tiers));
}

function randomPorts(random: Random, protocol: 'tcp' | 'udp'): { start: number; end: number } | undefined {
  const common = protocol === 'tcp' ? COMMON_TCP_PORTS : COMMON_UDP_PORTS;
  const shape = weighted(random, [
    [55, 'common'],
    [15, 'high'],
    [25, 'range'],
    [5, 'any'],
  ] as const);
  if (shape === 'any') return undefined;
  if (shape === 'range') {
    const start = between(random, 1024, 60000);
    return { start, end: start + between(random, 1, 20) };
  }
  const port = shape === 'common' ? pick(random, common) : between(random, 1024, 65535);
  return { start: port, end: port };
}

/** One ACL item, as the management server would send it. */
function randomItem(random: Random, number: number, tiers: number): Record<string, unknown> {
  const direction = random() < 0.55 ? 'ingress' : 'egress';
  const action = random() < 0.85 ? 'allow' : 'deny';
  const protocol = weighted<string | number>(random, [
    [60, 'tcp'],
    [25, 'udp'],
    [8, 'icmpv6'],
    [4, 'all'],
    [3, pick(random, [47, 50, 132])],
  ]);
  const item: Record<string, unknown> = { number, action, direction, protocol };
  if (protocol === 'tcp' || protocol === 'udp') {
    const ports = randomPorts(random, protocol);
    if (ports !== undefined) item.ports = ports;
  }
  if (protocol === 'icmpv6' && random() < 0.8) {
    const type = pick(random, ICMP_TYPES);
    item.icmp = type === 128 && random() < 0.3 ? { type, code: 0 } : { type };
  }
  const cidrs = randomCidrs(random, tiers);
  if (cidrs !== undefined) item.cidrs = cidrs;
  return item;
}

function swapSomeNeighbours<T>(random: Random, values: T[]): T[] {
  for (let i = 0; i + 1 < values.length; i++) {
    if (random() < 0.1) [values[i], values[i + 1]] = [values[i + 1] as T, values[i] as T];
  }
  return values;
}

/** The interface of tier n. */
export function tierInterface(n: number): string {
  return `t${n}`;
}

/** The raw desired state (unparsed JSON) of a VPC router with the given size. */
export function generateVpcPolicy(options: PolicyOptions = BENCH_POLICY): Record<string, unknown> {
  const random = createRandom(options.seed);
  const aclLists = Array.from({ length: options.tiers }, (_, list) => ({
    id: `acl-${list}`,
    defaultEgress: random() < 0.7 ? 'allow' : 'deny',
    // Item numbers in steps of 10, some listed out of order as CloudStack may send them.
    items: swapSomeNeighbours(
      random,
      Array.from({ length: options.itemsPerList }, (_, index) => randomItem(random, (index + 1) * 10, options.tiers)),
    ),
  }));
  const guestNetworks = Array.from({ length: options.tiers }, (_, n) => ({
    id: `tier-${n}`,
    interface: tierInterface(n),
    prefix: `2001:db8:1:${n}::/64`,
    aclId: `acl-${n}`,
  }));
  return {
    schemaVersion: 1,
    router: { id: 'r-bench-VM', kind: 'vpc' },
    public: { interface: 'pub0', mode: 'slaac', expectedPrefix: '2001:db8:ff00::/64' },
    guestNetworks,
    aclLists,
  };
}

/**
 * The same state with one item of one list changed (its first port moved by
 * one, or its action flipped): the "one ACL item changed" case.
 */
export function changeOneItem(raw: Record<string, unknown>, listIndex: number, itemIndex: number): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(raw)) as { aclLists: { items: Record<string, unknown>[] }[] };
  const item = copy.aclLists[listIndex]?.items[itemIndex];
  if (item === undefined) throw new Error(`no item ${itemIndex} in list ${listIndex}`);
  item.action = item.action === 'allow' ? 'deny' : 'allow';
  return copy as unknown as Record<string, unknown>;
}
