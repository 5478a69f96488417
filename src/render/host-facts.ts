import { gatewayOf, type DesiredState } from '../schema/desired-state.js';
import { formatPrefix } from '../schema/ipv6.js';
import { isDefaultFromBgp } from '../schema/routing.js';
import { renderInterfacesFile } from './interfaces-file.js';
import { renderRadvdConf } from './radvd-conf.js';
import { renderFrrConf, type FrrConf } from './frr-conf.js';
import type { DeprecatedPrefix } from '../model/deprecated-prefix.js';
import { keepalivedFilesOf, type KeepalivedFiles } from '../model/file-layout.js';
import { renderKeepalivedConf, type KeepalivedConf } from './keepalived-conf.js';
import { renderConntrackdConf } from './conntrackd-conf.js';
import { renderChainFingerprint, renderRuleset, type NftRuleset } from './ruleset.js';
import { renderSysctls, type SysctlSetting } from './sysctls.js';

/** An address the agent puts on an interface. */
export interface OwnedAddress {
  readonly interface: string;
  readonly address: string;
  readonly prefixLength: number;
}

/** A route the agent installs for a routed prefix: `destination via gateway dev interface`. */
export interface RoutedRoute {
  /** The prefix in CIDR form, as `ip -j route` prints it. */
  readonly destination: string;
  readonly gateway: string;
  readonly interface: string;
  /**
   * `onlink`: in a pair the guest /64 is on the primary's virtual-MAC
   * interface only, so the kernel would refuse a next hop on the parent as
   * unreachable (and the backup holds the /64 nowhere). The route stays on
   * the parent, where the next hop is, in both VRs and through every
   * failover.
   */
  readonly isOnLink: boolean;
}

/** Everything the host should be for a desired state, as plain data. */
export interface RenderedHost {
  /** Interfaces the state uses; each must exist and be up. */
  readonly interfaces: readonly string[];
  readonly publicInterface: string;
  readonly isPublicSlaac: boolean;
  readonly sysctls: readonly SysctlSetting[];
  readonly addresses: readonly OwnedAddress[];
  /** Static mode's default route; null in slaac mode, where the RA provides it. */
  readonly defaultRoute: { readonly gateway: string; readonly interface: string } | null;
  /** The routes of the routed prefixes (schemaVersion 2), one per prefix. */
  readonly routedRoutes: readonly RoutedRoute[];
  /** A BGP peer gives the default route: neither the agent's static one nor an RA's stands beside it. */
  readonly isDefaultFromBgp: boolean;
  readonly interfacesFile: string;
  /** The agent's table as data, and each chain's content as text for cheap comparison. */
  readonly ruleset: NftRuleset;
  readonly chainFingerprints: ReadonlyMap<string, string>;
  /** radvd.conf, or null when radvd must not run. */
  readonly radvdConf: string | null;
  /** zebra's config and RA settings, or null when zebra must not run. */
  readonly frr: FrrConf | null;
  /** keepalived's config and the pair's instances, or null when this VR is not one of a pair. */
  readonly keepalived: KeepalivedConf | null;
  /** conntrackd.conf, or null when no state sync runs. */
  readonly conntrackdConf: string | null;
}

/** The runtime files keepalived.conf names when the caller names none: the agent config's defaults. */
const DEFAULT_KEEPALIVED_FILES = keepalivedFilesOf('/run/vr6-agent');

/**
 * Renders every host fact of a desired state, and of the prefixes being
 * deprecated (whose gateways stay, so the guests' remaining flows route).
 * Pure and deterministic.
 */
export function renderHost(state: DesiredState, deprecated: readonly DeprecatedPrefix[] = [], keepalivedFiles: KeepalivedFiles = DEFAULT_KEEPALIVED_FILES): RenderedHost {
  const pub = state.public;
  const peer = state.redundancy?.peer;
  // In a pair, keepalived puts each gateway on the primary's virtual-MAC interface; on the parent
  // it would answer neighbour solicitations on the backup too.
  const addresses: OwnedAddress[] = [
    ...(state.redundancy ? [] : state.guestNetworks.map((network) => ({ interface: network.interface, address: gatewayOf(network), prefixLength: 64 }))),
    // In a pair keepalived holds a deprecated gateway on a link of the pair too (renderKeepalivedConf).
    ...deprecated.filter((d) => !isPairLink(state, d.interface)).map((d) => ({ interface: d.interface, address: d.gateway, prefixLength: 64 })),
    ...(peer ? [{ interface: peer.interface, address: peer.localAddress.address, prefixLength: peer.localAddress.length }] : []),
    // The VR's own address on each shared link, bgpd's source towards the upstream there (a pair has no shared links: the schema refuses them).
    ...state.sharedNetworks.map((network) => ({ interface: network.interface, address: network.address, prefixLength: 64 })),
  ];
  const ruleset = renderRuleset(state, deprecated);
  if (pub.mode === 'static' && pub.address) {
    addresses.unshift({ interface: pub.interface, address: pub.address.address, prefixLength: pub.address.length });
  }
  return {
    interfaces: [pub.interface, ...state.guestNetworks.map((n) => n.interface), ...state.sharedNetworks.map((n) => n.interface), ...(peer ? [peer.interface] : [])],
    publicInterface: pub.interface,
    isPublicSlaac: pub.mode === 'slaac',
    sysctls: renderSysctls(state),
    addresses,
    defaultRoute: pub.mode === 'static' && pub.gateway && !isDefaultFromBgp(state) ? { gateway: pub.gateway, interface: pub.interface } : null,
    routedRoutes: renderRoutedRoutes(state),
    isDefaultFromBgp: isDefaultFromBgp(state),
    interfacesFile: renderInterfacesFile(state),
    ruleset,
    chainFingerprints: new Map(ruleset.chains.map((chain) => [chain.name, renderChainFingerprint(chain)])),
    radvdConf: renderRadvdConf(state, deprecated),
    frr: renderFrrConf(state, deprecated),
    keepalived: renderKeepalivedConf(state, keepalivedFiles, deprecated),
    conntrackdConf: renderConntrackdConf(state, keepalivedFiles),
  };
}

/**
 * The route of each routed prefix that names a next hop; a plain CIDR of
 * schemaVersion 1 routes nothing. A shared network's prefix gets one too:
 * bgpd originates a `network` only while zebra's table has the prefix (FRR's
 * `bgp network import-check`, which stays on for the whole instance because
 * a redundant pair's backup relies on it, docs/redundancy.md), and this
 * route, to the instance on the link both share, is the one that is true.
 */
export function renderRoutedRoutes(state: DesiredState): RoutedRoute[] {
  return [...state.guestNetworks, ...state.sharedNetworks].flatMap((network) =>
    network.routedPrefixes.flatMap((routed) =>
      routed.nextHop === null ? [] : [{ destination: formatPrefix(routed.prefix), gateway: routed.nextHop, interface: network.interface, isOnLink: state.redundancy !== undefined }],
    ),
  );
}

// A guest link with a VRRP instance of the pair: one a network of the state still uses.
function isPairLink(state: DesiredState, ifname: string): boolean {
  return state.redundancy !== undefined && state.guestNetworks.some((network) => network.interface === ifname);
}
