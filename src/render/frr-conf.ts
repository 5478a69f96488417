import type { DesiredState, GuestNetwork } from '../schema/desired-state.js';
import { formatPrefix } from '../schema/ipv6.js';
import type { DeprecatedPrefix } from '../model/deprecated-prefix.js';
import { RA_ON, ZEBRA_DEFAULT_RA_INTERVAL_SECONDS } from '../model/frr-words.js';
import { FRR_HEADER } from '../model/ownership.js';
import { formatFrrLines, type FrrDaemon } from '../model/frr-config.js';
import type { FrrConfigLine } from '../model/observed.js';
import { renderBgpLines } from './frr-bgp.js';
import { renderOspfLines } from './frr-ospf.js';

/**
 * FRR's share of the host: frr.conf, and the parts of it as each daemon's
 * `show running-config` prints them, which is what the planner compares with
 * the running daemons. Every daemon starts from an empty config and is
 * brought to these by vtysh: a daemon that reads the whole file stumbles
 * over the others' lines (docs/research/bgp.md).
 */
export interface FrrConf {
  readonly text: string;
  /** Interface → its `ipv6 nd` lines, in the order a config must give them; empty when radvd sends the RAs. */
  readonly interfaces: ReadonlyMap<string, readonly string[]>;
  /** bgpd's, bfdd's and ospf6d's lines (and zebra's for them), in the order a config must give them; empty for static routing. */
  readonly routing: readonly FrrConfigLine[];
  /** The daemons that run: zebra always, bgpd for BGP, bfdd when a peer has BFD, ospf6d for OSPF. */
  readonly daemons: readonly FrrDaemon[];
  /** Whether zebra sends the guests' RAs (raBackend frr); with radvd, FRR only routes. */
  readonly sendsRas: boolean;
}

/**
 * frr.conf for zebra to send every guest network's RAs and for bgpd to
 * announce the VR's prefixes; null when neither is FRR's job. Each value comes from the validated schema and each setting is
 * one line, so no input can add a command. Settings radvd and zebra share
 * are stated explicitly, never left to FRR's defaults, so that both send the
 * same RA (docs/research/ra-backends.md): prefix lifetimes (FRR: 30 d / 7 d),
 * router lifetime and RDNSS/DNSSL lifetimes (FRR: 3 × interval, as the
 * schema's defaults, but a line zebra does not print is one the planner must
 * guess, and radvd's defaults differ). zebra has
 * no MinRtrAdvInterval: it advertises every `ra-interval` = MaxRtrAdvInterval.
 * Route information options (RFC 4191) have no FRR command; the agent
 * refuses them for this backend.
 */
export function renderFrrConf(state: DesiredState, deprecated: readonly DeprecatedPrefix[] = []): FrrConf | null {
  const sendsRas = state.raBackend === 'frr';
  const routing = [...renderBgpLines(state), ...renderOspfLines(state)];
  if (!sendsRas && routing.length === 0) return null;
  const interfaces = sendsRas ? renderInterfaces(state, deprecated) : new Map<string, string[]>();
  const daemons = routingDaemonsOf(state);
  const blocks = [...interfaces].map(([ifname, lines]) => [`interface ${ifname}`, ...lines.map((line) => ` ${line}`), 'exit', '!']);
  const text = [
    FRR_HEADER,
    'frr defaults traditional',
    'log syslog informational',
    // Stated, never omitted: FRR tools "fix" omitted lines, and once turned IPv4 forwarding on (docs/field-notes.md#frr).
    // A CloudStack VR routes IPv4 as well, and the agent turns IPv6 forwarding on once its filter is loaded.
    'ip forwarding',
    'ipv6 forwarding',
    '!',
    ...blocks.flat(),
    ...(routing.length > 0 ? [...formatFrrLines(routing), '!'] : []),
  ].join('\n');
  return { text: `${text}\n`, interfaces, routing, daemons, sendsRas };
}

/** zebra, and the routing protocol's daemons, in start order: each reaches zebra through its socket. */
function routingDaemonsOf({ routing }: DesiredState): FrrDaemon[] {
  const bgp = routing.protocol === 'bgp' ? routing.bgp : undefined;
  return [
    'zebra',
    ...(bgp ? (['bgpd'] as const) : []),
    ...(bgp?.peers.some((peer) => peer.bfd !== undefined) ? (['bfdd'] as const) : []),
    ...(routing.protocol === 'ospf' ? (['ospf6d'] as const) : []),
  ];
}

function renderInterfaces(state: DesiredState, deprecated: readonly DeprecatedPrefix[]): Map<string, string[]> {
  const interfaces = new Map<string, string[]>();
  for (const network of state.guestNetworks) interfaces.set(network.interface, renderNetworkLines(network, deprecated));
  for (const d of deprecated) {
    // A link no network uses any more: deprecate its prefixes, and stop being a default router there.
    if (!interfaces.has(d.interface)) interfaces.set(d.interface, [...LEFT_LINK_TIMING, ...deprecatedLines(d.interface, deprecated), RA_ON]);
  }
  return interfaces;
}

// radvd's and zebra's default MaxRtrAdvInterval, stated so that a link leaving a network
// changes interval and lifetime in the one order zebra accepts (src/plan/frr-plan.ts).
const LEFT_LINK_TIMING = [`ipv6 nd ra-interval ${ZEBRA_DEFAULT_RA_INTERVAL_SECONDS}`, 'ipv6 nd ra-lifetime 0'];

function deprecatedLines(ifname: string, deprecated: readonly DeprecatedPrefix[]): string[] {
  // RFC 9096 §3.5: lifetimes 0 make guests stop using the prefix now. The VR keeps its
  // gateway in the prefix meanwhile, and zebra advertises the prefix of every address it
  // has at 30 days unless a line says otherwise: this line is what deprecates it.
  return deprecated.filter((d) => d.interface === ifname).map((d) => `ipv6 nd prefix ${formatPrefix(d.prefix)} 0 0`);
}

function renderNetworkLines(network: GuestNetwork, deprecated: readonly DeprecatedPrefix[]): string[] {
  const ra = network.ra;
  // zebra refuses an ra-interval above a configured ra-lifetime (0 included): the interval comes first.
  const lines = [`ipv6 nd ra-interval ${ra.maxIntervalSeconds}`, `ipv6 nd ra-lifetime ${ra.routerLifetimeSeconds}`];
  if (ra.mtu !== undefined) lines.push(`ipv6 nd mtu ${ra.mtu}`);
  // On-link and autonomous are FRR's defaults.
  lines.push(`ipv6 nd prefix ${formatPrefix(network.prefix)} ${lifetime(ra.validLifetimeSeconds)} ${lifetime(ra.preferredLifetimeSeconds)}`);
  lines.push(...deprecatedLines(network.interface, deprecated));
  lines.push(...ra.dnsServers.map((server) => `ipv6 nd rdnss ${server} ${lifetime(ra.rdnssLifetimeSeconds)}`));
  // zebra drops a trailing dot (same DNSSL on the wire) and prints the name without it: so does the agent.
  lines.push(...ra.searchDomains.map((domain) => `ipv6 nd dnssl ${domain.replace(/\.$/, '')} ${lifetime(ra.dnsslLifetimeSeconds)}`));
  lines.push(RA_ON);
  return lines;
}

/** A lifetime as zebra prints it: 0xffffffff is "infinite" (RFC 4861 §4.6.2). */
function lifetime(seconds: number): string {
  return seconds === 0xffffffff ? 'infinite' : String(seconds);
}
