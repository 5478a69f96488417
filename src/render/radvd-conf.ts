import { gatewayOf, type DesiredState, type GuestNetwork } from '../schema/desired-state.js';
import { formatPrefix } from '../schema/ipv6.js';
import { isRadvdToken } from '../schema/radvd-words.js';
import { virtualLinkLocalOf, vmacInterfaceOf } from '../schema/redundancy.js';
import type { DeprecatedPrefix } from '../model/deprecated-prefix.js';
import { GENERATED_HEADER } from '../model/ownership.js';

/**
 * radvd.conf(5) for every guest network, or null when no link needs RAs.
 * A prefix being deprecated is advertised next to its link's prefixes with
 * lifetimes 0; on a link no network uses any more, with router lifetime 0
 * too, since the VR is leaving that link. All values come from the validated
 * schema, whose field types admit no character that could break out of a
 * radvd statement.
 *
 * In a redundant pair, radvd runs on both VRs, on each link's virtual-MAC
 * interface and sending only from the shared link-local address: the
 * backup lacks that address, so its radvd sends nothing, and the primary's
 * RAs come from the router address guests keep across a failover.
 */
export function renderRadvdConf(state: DesiredState, deprecated: readonly DeprecatedPrefix[] = []): string | null {
  if (state.raBackend !== 'radvd') return null;
  const redundancy = state.redundancy;
  const blocks = state.guestNetworks.map((network) =>
    renderInterfaceBlock(network, deprecated, redundancy && { interface: vmacInterfaceOf(network.interface), source: virtualLinkLocalOf(redundancy, network.id) }),
  );
  const leftLinks = [...new Set(deprecated.map((d) => d.interface))].filter((ifname) => !state.guestNetworks.some((n) => n.interface === ifname));
  blocks.push(...leftLinks.map((ifname) => renderLeftLinkBlock(ifname, deprecated)));
  return blocks.length === 0 ? null : `${GENERATED_HEADER}\n\n${blocks.join('\n')}`;
}

/** `prefix P { ... AdvValidLifetime 0; AdvPreferredLifetime 0; };` for each deprecation on the link. */
function renderDeprecatedPrefixLines(ifname: string, deprecated: readonly DeprecatedPrefix[]): string[] {
  return deprecated
    .filter((d) => d.interface === ifname)
    .flatMap((d) => [
      `    prefix ${formatPrefix(d.prefix)}`,
      '    {',
      '        AdvOnLink on;',
      '        AdvAutonomous on;',
      '        AdvRouterAddr off;',
      // RFC 9096 §3.5: lifetimes 0 make guests stop using the prefix now.
      '        AdvValidLifetime 0;',
      '        AdvPreferredLifetime 0;',
      '    };',
    ]);
}

function renderLeftLinkBlock(ifname: string, deprecated: readonly DeprecatedPrefix[]): string {
  return [
    `# no network left on ${ifname}: deprecating its prefixes, and no longer a default router`,
    `interface ${ifname}`,
    '{',
    '    AdvSendAdvert on;',
    '    AdvDefaultLifetime 0;',
    ...renderDeprecatedPrefixLines(ifname, deprecated),
    '};',
    '',
  ].join('\n');
}

/** Where a redundant pair's RAs go out: the virtual-MAC interface, from the shared link-local address. */
interface VirtualSender {
  readonly interface: string;
  readonly source: string;
}

function renderInterfaceBlock(network: GuestNetwork, deprecated: readonly DeprecatedPrefix[], virtual: VirtualSender | undefined): string {
  const ra = network.ra;
  const lines = [
    `# ${network.id}, gateway ${gatewayOf(network)}`,
    `interface ${virtual?.interface ?? network.interface}`,
    '{',
    '    AdvSendAdvert on;',
    // radvd 2.19 sends nothing while the interface lacks the address (not ready, setup_iface failed).
    ...(virtual ? [`    AdvRASrcAddress { ${virtual.source}; };`] : []),
    // No DHCPv6 in this design: guests configure themselves by SLAAC alone.
    '    AdvManagedFlag off;',
    '    AdvOtherConfigFlag off;',
    `    MinRtrAdvInterval ${ra.minIntervalSeconds};`,
    `    MaxRtrAdvInterval ${ra.maxIntervalSeconds};`,
    `    AdvDefaultLifetime ${ra.routerLifetimeSeconds};`,
  ];
  if (ra.mtu !== undefined) lines.push(`    AdvLinkMTU ${ra.mtu};`);
  lines.push(
    `    prefix ${formatPrefix(network.prefix)}`,
    '    {',
    '        AdvOnLink on;',
    '        AdvAutonomous on;',
    // The VR holds <prefix>::1 itself; radvd must not derive another address from its own RAs.
    '        AdvRouterAddr off;',
    `        AdvValidLifetime ${ra.validLifetimeSeconds};`,
    `        AdvPreferredLifetime ${ra.preferredLifetimeSeconds};`,
    '    };',
    ...renderDeprecatedPrefixLines(network.interface, deprecated),
  );
  for (const route of ra.routes) {
    lines.push(
      `    route ${formatPrefix(route.prefix)}`,
      '    {',
      `        AdvRoutePreference ${route.preference};`,
      `        AdvRouteLifetime ${route.lifetimeSeconds ?? 3 * ra.maxIntervalSeconds};`,
      '    };',
    );
  }
  // radvd's default RDNSS lifetime is not what its man page says (docs/field-notes.md#radvd): always state it.
  // An RDNSS block takes at most three addresses (radvd refuses the file otherwise); a list goes in blocks of three.
  for (let i = 0; i < ra.dnsServers.length; i += 3) {
    const servers = ra.dnsServers.slice(i, i + 3);
    lines.push(`    RDNSS ${servers.join(' ')}`, '    {', `        AdvRDNSSLifetime ${ra.rdnssLifetimeSeconds};`, '    };');
  }
  if (ra.searchDomains.length > 0) {
    lines.push(`    DNSSL ${ra.searchDomains.map(renderRadvdDomain).join(' ')}`, '    {', `        AdvDNSSLLifetime ${ra.dnsslLifetimeSeconds};`, '    };');
  }
  lines.push('};', '');
  return lines.join('\n');
}

/**
 * A search domain as radvd's lexer reads it: a bare label such as "on",
 * "prefix" or "8", or a decimal such as "12.34", is a keyword or a number
 * token to it, and the DNSSL line is refused. The root dot makes it a name
 * again; it is the same domain (RFC 1034 §3.1), and radvd encodes "on." and
 * "on" alike (send.c, serialize_domain_names).
 */
function renderRadvdDomain(domain: string): string {
  return !domain.includes('.') || isRadvdToken(domain) ? `${domain}.` : domain;
}
