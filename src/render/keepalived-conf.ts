import { gatewayOf, type DesiredState } from '../schema/desired-state.js';
import { preemptDelayOf, publicLinkLocalOf, virtualLinkLocalOf, virtualMacOf, vmacInterfaceOf, type Redundancy } from '../schema/redundancy.js';
import type { DeprecatedPrefix } from '../model/deprecated-prefix.js';
import type { KeepalivedFiles } from '../model/file-layout.js';
import { GENERATED_HEADER } from '../model/ownership.js';

/** One VRRP instance: a link of the pair, and the virtual addresses the primary holds on it. */
export interface VrrpInstance {
  /** The link (the instance is named after it). */
  readonly interface: string;
  /** The macvlan keepalived makes for the virtual MAC, and puts the addresses on. */
  readonly vmacInterface: string;
  /** Link-local first (RFC 5798 §5.2.9: an IPv6 advertisement's first address is link-local), each with its length. */
  readonly addresses: readonly string[];
  /** The gateways of the link's prefixes being deprecated (RFC 9096): held by the primary alone, as the others, but not advertised. */
  readonly deprecatedGateways: readonly string[];
}

/** What the pair looks like on this VR: keepalived's config, and what the rest of the host must agree with. */
export interface KeepalivedConf {
  readonly text: string;
  readonly instances: readonly VrrpInstance[];
  /** The RFC 5798 §7.3 virtual MAC every instance's macvlan carries. */
  readonly virtualMac: string;
  /** Per guest interface, the shared link-local address radvd sends from. */
  readonly raSources: ReadonlyMap<string, string>;
}

/** The name of the sync group, which makes every instance fail over together. */
export const VRRP_GROUP = 'vr6';
/** The name of the track file's entry in keepalived.conf. */
const HEALTH_TRACK = 'vr6_agent_health';
/** The name of the check of the agent's heartbeat. */
const HEARTBEAT_CHECK = 'vr6_agent_alive';

/**
 * How old the agent's heartbeat may grow before keepalived takes this VR's
 * roles away: longer than an agent restart takes (the unit's RestartSec 2 s
 * and a start of the bundled agent under load), so a restart causes no
 * failover, while a dead or stopped agent costs the role within seconds.
 */
export const HEARTBEAT_GRACE_SECONDS = 6;
/** How often the agent rewrites its heartbeat. */
export const HEARTBEAT_INTERVAL_MS = 1000;

/**
 * keepalived.conf(5) for the pair, or null without a redundancy section.
 * One VRRPv3 instance per link (the public one and each guest network's),
 * all in one sync group: a VR that loses any of its links, or whose agent
 * writes a non-zero health, goes to FAULT as a whole, and the peer takes
 * every role at once. Each instance uses the virtual MAC on a macvlan
 * (`use_vmac`), so guests and the upstream keep the same neighbour entry
 * across a failover. Every value comes from the validated schema, whose
 * field types admit nothing that could break out of a keepalived statement.
 *
 * The gateway of a prefix being deprecated on a link of the pair stays for
 * its window (the guests' remaining flows still route) on the virtual-MAC
 * interface, as `virtual_ipaddress_excluded`: only the primary holds it, as
 * it does the link's gateway, and it is left out of the advertisements, so
 * two VRs whose windows differ by a moment never disagree on the addresses
 * an advertisement carries (RFC 5798 §6.4.3 lets a backup check them).
 */
export function renderKeepalivedConf(state: DesiredState, files: KeepalivedFiles, deprecated: readonly DeprecatedPrefix[] = []): KeepalivedConf | null {
  const redundancy = state.redundancy;
  if (redundancy === undefined) return null;
  const virtualMac = virtualMacOf(redundancy.vrrpId);
  const publicVip = redundancy.publicAddress;
  const publicLinkLocal = publicLinkLocalOf(redundancy);
  const instances: VrrpInstance[] = [
    {
      interface: state.public.interface,
      vmacInterface: vmacInterfaceOf(state.public.interface),
      addresses: [`${publicLinkLocal}/64`, `${publicVip.address}/${publicVip.length}`],
      deprecatedGateways: [],
    },
    ...state.guestNetworks.map((network) => ({
      interface: network.interface,
      vmacInterface: vmacInterfaceOf(network.interface),
      addresses: [`${virtualLinkLocalOf(redundancy, network.id)}/64`, `${gatewayOf(network)}/64`],
      deprecatedGateways: deprecated.filter((d) => d.interface === network.interface).map((d) => `${d.gateway}/64`),
    })),
  ];
  const raSources = new Map(state.guestNetworks.map((network) => [vmacInterfaceOf(network.interface), virtualLinkLocalOf(redundancy, network.id)]));
  const text = [
    GENERATED_HEADER,
    '',
    ...renderGlobals(state.router.id, files),
    ...renderTrackFile(files),
    ...renderHeartbeatCheck(files),
    ...renderSyncGroup(state, instances),
    ...instances.flatMap((instance) => renderInstance(instance, redundancy, state.public.interface, state.routing.protocol)),
  ].join('\n');
  return { text, instances, virtualMac, raSources };
}

function renderGlobals(routerId: string, files: KeepalivedFiles): string[] {
  return [
    'global_defs {',
    `    router_id ${routerId}`,
    '    vrrp_version 3',
    // RFC 5798 §6.4.2: on becoming master, unsolicited NAs for every address; repeated once a second
    // later, when the bridges between have surely learnt the virtual MAC's new port.
    '    vrrp_garp_master_delay 1',
    '    vrrp_garp_master_repeat 3',
    // After a split brain heals, the lower master answers the higher one's advertisement so that one of them steps down.
    '    vrrp_higher_prio_send_advert true',
    // Each transition, as a line, to the agent (report and journal); no notify scripts run.
    `    vrrp_notify_fifo ${files.notifyFifo}`,
    // The heartbeat check runs /bin/sh as root (its own `user` below); keepalived checks the script's path is root's.
    '    enable_script_security',
    '}',
    '',
  ];
}

function renderTrackFile(files: KeepalivedFiles): string[] {
  // weight 0: any value but 0 is a fault (keepalived.conf(5), vrrp_track_file).
  return [`vrrp_track_file ${HEALTH_TRACK} {`, `    file ${files.health}`, '    weight 0', '}', ''];
}

function renderHeartbeatCheck(files: KeepalivedFiles): string[] {
  // find prints the file only when it changed within the grace period; the path is $0, an argument of
  // its own, so no character of it reaches the shell as code. weight 0: a failing check is a fault.
  return [
    `vrrp_script ${HEARTBEAT_CHECK} {`,
    `    script "/bin/sh -c 'find \\"$0\\" -newermt \\"-${HEARTBEAT_GRACE_SECONDS} seconds\\" | grep -q .' ${files.heartbeat}"`,
    // Its own user: keepalived 2.2.7 drops a check without one on a reload when its default
    // script user (keepalived_script) does not exist, which a global script_user does not prevent.
    '    user root',
    '    interval 1',
    // Two failed checks in a row: one check during a wall-clock step or a VM resume must not fault the primary.
    '    fall 2',
    '    rise 1',
    '    weight 0',
    '}',
    '',
  ];
}

/**
 * Whether the pair's instances are a sync group: only with two or more. A
 * pair with no guest network yet (a VPC before its first tier) has the
 * public instance alone, and keepalived 2.2.7 refuses a group of one
 * (`keepalived -t` exits 5); the one instance fails over by itself.
 */
export function isSyncGrouped(state: Pick<DesiredState, 'guestNetworks'>): boolean {
  return state.guestNetworks.length > 0;
}

function renderSyncGroup(state: DesiredState, instances: readonly VrrpInstance[]): string[] {
  if (!isSyncGrouped(state)) return [];
  return [`vrrp_sync_group ${VRRP_GROUP} {`, '    group {', ...instances.map((i) => `        ${i.interface}`), '    }', '}', ''];
}

function renderPreempt(redundancy: Redundancy, routingProtocol: string): string[] {
  if (!redundancy.preempt) return ['    nopreempt'];
  const delay = preemptDelayOf(redundancy, routingProtocol);
  return delay === 0 ? [] : [`    preempt_delay ${delay}`];
}

function renderInstance(instance: VrrpInstance, redundancy: Redundancy, publicInterface: string, routingProtocol: string): string[] {
  return [
    `vrrp_instance ${instance.interface} {`,
    // Every VR starts as backup and is elected (RFC 5798 §6.4.1); nopreempt needs a BACKUP start.
    '    state BACKUP',
    `    interface ${instance.interface}`,
    `    virtual_router_id ${redundancy.vrrpId}`,
    `    priority ${redundancy.priority}`,
    `    advert_int ${renderSeconds(redundancy.advertisementIntervalCentiseconds)}`,
    ...renderPreempt(redundancy, routingProtocol),
    `    use_vmac ${instance.vmacInterface}`,
    // A guest instance also fails when the public link does: a primary cut off upstream is no gateway.
    ...(instance.interface === publicInterface ? [] : ['    track_interface {', `        ${publicInterface}`, '    }']),
    '    track_file {',
    `        ${HEALTH_TRACK}`,
    '    }',
    '    track_script {',
    `        ${HEARTBEAT_CHECK}`,
    '    }',
    '    virtual_ipaddress {',
    ...instance.addresses.map((address) => `        ${address}`),
    '    }',
    ...(instance.deprecatedGateways.length === 0
      ? []
      : ['    virtual_ipaddress_excluded {', ...instance.deprecatedGateways.map((address) => `        ${address}`), '    }']),
    '}',
    '',
  ];
}

// keepalived reads advert_int in seconds, to the centisecond.
function renderSeconds(centiseconds: number): string {
  return (centiseconds / 100).toFixed(2).replace(/\.?0+$/, '');
}
