import { formatFrrLines, frrLineKey, type FrrDaemon } from '../model/frr-config.js';
import { BGP_ADDRESS_FAMILY, OSPF_ROUTER } from '../model/frr-words.js';
import type { FrrConfigLine } from '../model/observed.js';

/**
 * The vtysh commands that take bgpd's and bfdd's running config to the
 * rendered one, as a diff: never a restart, never `no router bgp` but for a
 * change of the VR's own AS, which no command can make in place. Each
 * changed setting is one command that overwrites it, so nothing passes
 * through FRR's defaults, and a change touches only the peers it names: the
 * other sessions and announcements are left alone (docs/routing.md). Pure.
 */
export interface RoutingChange {
  /** The commands, as a file for `vtysh -f`; empty when nothing differs. */
  readonly commands: string;
  /** Peers already configured whose import policy the commands change: each needs a route refresh. */
  readonly refreshPeers: readonly string[];
  /** The AS changes: the instance is removed and made anew, and every session with it. */
  readonly isNewInstance: boolean;
  /** vtysh commands after the config that make it take effect: ospf6d takes a new router ID only at `clear ipv6 ospf6 process`. */
  readonly clears: readonly string[];
  /**
   * Removed lines a daemon keeps printing until a timer of its own: ospf6d drops a
   * `summary-address` only at its aggregation timer (5 s at least on 8.4). The
   * change is done once they are gone from that daemon's running config.
   */
  readonly lingering: readonly { readonly daemon: FrrDaemon; readonly line: string }[];
}

/** The command that makes ospf6d use a changed router ID, which resets every adjacency (FRR 8.4). */
export const OSPF_RESTART = 'clear ipv6 ospf6 process';

// Settings a daemon refuses to overwrite: the running one is removed first. ospf6d answers
// `ipv6 ospf6 area B` on an interface in area A with "already attached" and exit 0.
const CLEARED_BEFORE_SET = new Set(['ipv6 ospf6 area']);

/** The setting a line sets, within its block: a desired line replaces the running line of the same setting. */
export function routingSettingOf(line: string): string {
  const words = line.replace(/^no /, '').split(' ');
  const [first, second, third] = words;
  if (first === 'neighbor' && words.length >= 3) {
    const [, peer, attribute, ...rest] = words;
    if (attribute === 'timers' && rest[0] === 'connect') return `neighbor ${peer} timers connect`;
    if (attribute === 'bfd' && rest[0] === 'profile') return `neighbor ${peer} bfd profile`;
    // Per direction: `neighbor X prefix-list NAME in` is replaced by another list in.
    if (attribute === 'prefix-list' || attribute === 'route-map') return `neighbor ${peer} ${attribute} ${rest[rest.length - 1]}`;
    return `neighbor ${peer} ${attribute}`;
  }
  if (first === 'bgp' && second === 'router-id') return 'bgp router-id';
  // ospf6d: `ipv6 ospf6 cost 20` under an interface, `ospf6 router-id …`, one redistribution per source.
  if (first === 'ipv6' && second === 'ospf6') return words.slice(0, 3).join(' ');
  if (first === 'ipv6' && second === 'protocol') return words.slice(0, 3).join(' ');
  if (first === 'ospf6' && second === 'router-id') return 'ospf6 router-id';
  if (first === 'redistribute' || first === 'summary-address') return `${first} ${second}`;
  if (first === 'bgp' && second === 'route-map' && third === 'delay-timer') return 'bgp route-map delay-timer';
  if (first === 'network' || first === 'aggregate-address') return `${first} ${second}`;
  if (first === 'match' || first === 'set') return words.slice(0, -1).join(' ');
  if (first === 'route-map') return `route-map ${second} ${words[3]}`;
  if (first === 'detect-multiplier' || first === 'receive-interval' || first === 'transmit-interval') return first!;
  return words.join(' ');
}

const settingKey = ({ context, line }: FrrConfigLine) => [...context, routingSettingOf(line)].join('\n');
const isRouterHeader = (line: string) => /^router bgp \d+$/.test(line);
// A protocol's instance: BGP's, whose AS is in its header, or OSPF's, of which ospf6d has one.
const isInstanceHeader = (line: string) => isRouterHeader(line) || line === OSPF_ROUTER;
const routerOf = (lines: readonly FrrConfigLine[]) =>
  lines.map(({ context, line }) => context[0] ?? line).find(isRouterHeader) ?? null;
const peerOf = (line: string) => /^neighbor (\S+) /.exec(line)?.[1] ?? null;
const peersOf = (lines: readonly FrrConfigLine[]) =>
  new Set(lines.filter(({ context, line }) => context.length === 1 && isRouterHeader(context[0]!) && / remote-as /.test(line)).map(({ line }) => peerOf(line)!));

/** The command that undoes a running line: its `no` form, or the positive form of a `no` line. */
function undo(entry: FrrConfigLine): FrrConfigLine {
  return { context: entry.context, line: entry.line.startsWith('no ') ? entry.line.slice(3) : `no ${entry.line}` };
}

/**
 * The commands from the running routing lines to the desired ones. A block
 * (a route-map entry, a BFD profile) that is no longer wanted goes as one
 * `no <header>`; a peer that is no longer wanted as one `no neighbor`.
 */
export function planRoutingChange(wanted: readonly FrrConfigLine[], running: readonly FrrConfigLine[]): RoutingChange {
  let desired = wanted;
  const router = routerOf(desired);
  const runningRouter = routerOf(running);
  const isNewInstance = runningRouter !== null && runningRouter !== router;
  const first: FrrConfigLine[] = isNewInstance ? [{ context: [], line: `no ${runningRouter}` }] : [];
  // An instance with nothing in it prints as a bare header, which is no setting.
  const settings = running.filter(({ line }) => !isInstanceHeader(line) && line !== BGP_ADDRESS_FAMILY);
  let have = isNewInstance ? settings.filter(({ context }) => context[0] !== runningRouter) : settings;

  // Peers no longer wanted: one `no neighbor` takes every line of theirs.
  const wantedPeers = peersOf(desired);
  const goners = [...peersOf(have)].filter((peer) => !wantedPeers.has(peer));
  const peerRemovals = goners.map((peer) => ({ context: [router!], line: `no neighbor ${peer}` }));
  have = have.filter(({ line }) => !goners.includes(peerOf(line) ?? ''));

  // Blocks no longer wanted: one `no <header>` each.
  // The bfd node holds others' profiles too, and an interface others' settings (zebra's RAs): neither is removed;
  // an address family has no `no` form, only its lines do.
  const isKept = (header: string) => header === 'bfd' || header.startsWith('address-family ') || header.startsWith('interface ');
  const wantedHeaders = new Set([...desired.flatMap(({ context, line }) => [...context.map((_, i) => context.slice(0, i + 1).join('\n')), [...context, line].join('\n')])]);
  const blockRemovals: FrrConfigLine[] = [];
  have = have.filter(({ context }) => {
    const depth = context.findIndex((header, i) => !isKept(header) && !wantedHeaders.has(context.slice(0, i + 1).join('\n')));
    if (depth < 0) return true;
    const block = { context: context.slice(0, depth), line: `no ${context[depth]}` };
    if (!blockRemovals.some((b) => frrLineKey(b) === frrLineKey(block))) blockRemovals.push(block);
    return false;
  });

  const lists = planPrefixLists(desired.filter(isListEntry), have.filter(isListEntry));
  desired = desired.filter((entry) => !isListEntry(entry));
  have = have.filter((entry) => !isListEntry(entry));
  const haveBySetting = new Map(have.map((entry) => [settingKey(entry), entry]));
  const wantSettings = new Set(desired.map(settingKey));
  const sets = desired.filter((entry) => haveBySetting.get(settingKey(entry))?.line !== entry.line);
  const clearedFirst = sets.flatMap((entry) => {
    const had = haveBySetting.get(settingKey(entry));
    return had !== undefined && CLEARED_BEFORE_SET.has(routingSettingOf(had.line)) ? [undo(had)] : [];
  });
  // `no neighbor X bfd` takes its profile line with it.
  const removedBfd = new Set(have.filter((e) => !wantSettings.has(settingKey(e)) && / bfd$/.test(e.line)).map((e) => peerOf(e.line)));
  const removals = have
    .filter((entry) => !wantSettings.has(settingKey(entry)))
    .filter(({ line }) => !(/ bfd profile /.test(line) && removedBfd.has(peerOf(line))))
    .map(undo);

  const inRouter = (e: FrrConfigLine) => e.context.length === 1 && isInstanceHeader(e.context[0]!);
  const inFamily = (e: FrrConfigLine) => e.context.length === 2 && e.context[1]!.startsWith('address-family ');
  const inInterface = (e: FrrConfigLine) => (e.context[0] ?? '').startsWith('interface ');
  const outside = (e: FrrConfigLine) => !isInstanceHeader(e.context[0] ?? '') && !inInterface(e);
  const isRemoteAs = (e: FrrConfigLine) => / remote-as /.test(e.line);
  const ordered = [
    ...first,
    // Policies and profiles first, so that whatever refers to them finds them.
    ...lists.sets,
    ...sets.filter(outside),
    // A peer's settings: the exclusive ones go before their replacements (ebgp-multihop, ttl-security).
    ...peerRemovals,
    ...removals.filter(inRouter),
    // The instance's own settings before any peer: a peer made under `bgp default ipv4-unicast` is activated for IPv4.
    ...sets.filter(inRouter).filter((e) => peerOf(e.line) === null),
    ...sets.filter(inRouter).filter(isRemoteAs),
    ...sets.filter(inRouter).filter((e) => peerOf(e.line) !== null && !isRemoteAs(e)),
    // A prefix-list in or out is replaced in one command; announcements come and go on their own.
    ...sets.filter(inFamily),
    ...removals.filter(inFamily),
    // An interface joins OSPF after the instance has its router ID: without one it forms no adjacency.
    ...removals.filter(inInterface),
    ...clearedFirst,
    ...sets.filter(inInterface),
    // Then what no one refers to any more.
    ...blockRemovals,
    ...removals.filter(outside),
    ...lists.removals,
  ];
  const configured = peersOf(have);
  const isImportPolicy = (e: FrrConfigLine) => inFamily(e) && / (prefix-list|route-map) \S+ in$/.test(e.line);
  const refreshPeers = [...new Set([...sets, ...removals].filter(isImportPolicy).map((e) => peerOf(e.line.replace(/^no /, ''))!))].filter((peer) =>
    configured.has(peer),
  );
  const isNewRouterId = sets.some((e) => routingSettingOf(e.line) === 'ospf6 router-id' && haveBySetting.has(settingKey(e)));
  const clears = isNewRouterId ? [OSPF_RESTART] : [];
  const lingering = removals.filter((e) => inRouter(e) && e.line.startsWith('no summary-address ')).map((e) => ({ daemon: 'ospf6d' as const, line: e.line.slice(3) }));
  return { commands: ordered.length === 0 ? '' : `${formatFrrLines(ordered).join('\n')}\n`, refreshPeers, isNewInstance, clears, lingering };
}

const LIST_ENTRY = /^ipv6 prefix-list (\S+) seq (\d+) (.+)$/;
const isListEntry = ({ context, line }: FrrConfigLine) => context.length === 0 && LIST_ENTRY.test(line);

/**
 * Prefix-list entries compared as what they match, not where they sit: the
 * agent's lists hold exact-match permits and one final `deny any`, so their
 * order does not matter, and FRR 8.4 ignores `seq N permit P` (exit 0) while
 * P is already at another seq. A prefix the daemon has keeps its seq; a new
 * one takes the rendered seq when it is free, else the next free one; and
 * every new entry is in before an old one goes, so nothing still wanted is
 * denied in between.
 */
function planPrefixLists(desired: readonly FrrConfigLine[], running: readonly FrrConfigLine[]): { sets: FrrConfigLine[]; removals: FrrConfigLine[] } {
  const parse = ({ line }: FrrConfigLine) => {
    const [, name, seq, rule] = LIST_ENTRY.exec(line)!;
    return { name: name!, seq: Number(seq), rule: rule! };
  };
  const have = running.map(parse);
  const want = desired.map(parse);
  const entry = (name: string, seq: number, rule: string): FrrConfigLine => ({ context: [], line: `ipv6 prefix-list ${name} seq ${seq} ${rule}` });
  const used = new Set(have.map(({ name, seq }) => `${name} ${seq}`));
  const sets: FrrConfigLine[] = [];
  for (const { name, seq, rule } of want) {
    if (have.some((h) => h.name === name && h.rule === rule)) continue;
    let free = seq;
    while (used.has(`${name} ${free}`)) free++;
    used.add(`${name} ${free}`);
    sets.push(entry(name, free, rule));
  }
  const removals = have.filter((h) => !want.some((w) => w.name === h.name && w.rule === h.rule)).map((h) => ({ context: [], line: `no ${entry(h.name, h.seq, h.rule).line}` }));
  return { sets, removals };
}
