import { gatewayOf, type DesiredState, type GuestNetwork } from '../schema/desired-state.js';
import { formatPrefix } from '../schema/ipv6.js';
import { GENERATED_HEADER } from './interfaces-file.js';

/**
 * radvd.conf(5) for every guest network, or null when no network needs RAs.
 * All values come from the validated schema, whose field types admit no
 * character that could break out of a radvd statement.
 */
export function renderRadvdConf(state: DesiredState): string | null {
  if (state.raBackend !== 'radvd' || state.guestNetworks.length === 0) return null;
  const blocks = state.guestNetworks.map(renderInterfaceBlock);
  return `${GENERATED_HEADER}\n\n${blocks.join('\n')}`;
}

function renderInterfaceBlock(network: GuestNetwork): string {
  const ra = network.ra;
  const dnsLifetime = ra.dnsLifetimeSeconds ?? 2 * ra.maxIntervalSeconds;
  const lines = [
    `# ${network.id}, gateway ${gatewayOf(network)}`,
    `interface ${network.interface}`,
    '{',
    '    AdvSendAdvert on;',
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
  );
  if (ra.dnsServers.length > 0) {
    // radvd's default RDNSS lifetime is not what its man page says (shared/FIELD-NOTES.md): always state it.
    lines.push(`    RDNSS ${ra.dnsServers.join(' ')}`, '    {', `        AdvRDNSSLifetime ${dnsLifetime};`, '    };');
  }
  if (ra.searchDomains.length > 0) {
    lines.push(`    DNSSL ${ra.searchDomains.join(' ')}`, '    {', `        AdvDNSSLLifetime ${dnsLifetime};`, '    };');
  }
  lines.push('};', '');
  return lines.join('\n');
}
