import type { OwnedAddress, RoutedRoute } from '../render/host-facts.js';
import type { NftDocument } from '../render/ruleset-document.js';
import type { FrrDaemon } from '../model/frr-config.js';

/** A daemon the agent runs and remembers the config of. */
export type Daemon = 'radvd' | 'keepalived' | 'conntrackd' | FrrDaemon;

/**
 * What a step leaves a daemon running: the config the running process is
 * brought to, or null when the step stops it. The loop records it, so the
 * planner can tell a daemon that died or was reconfigured by someone else.
 */
export interface DaemonLoad {
  readonly daemon: Daemon;
  readonly config: string | null;
}

/**
 * One effect on the host. Each kind has one executor in apply/; a plan is an
 * ordered list of these, and an empty plan means the host has converged.
 */
export type Step =
  | { readonly kind: 'checkRadvdConfig'; readonly content: string }
  | { readonly kind: 'checkFrrConfig'; readonly content: string }
  | { readonly kind: 'loadRuleset'; readonly document: string; readonly drift: readonly string[] }
  | { readonly kind: 'loadRulesetStaged'; readonly documents: readonly NftDocument[]; readonly drift: readonly string[] }
  | { readonly kind: 'updateRuleset'; readonly document: string; readonly chains: readonly string[]; readonly drift: readonly string[] }
  | { readonly kind: 'setSysctl'; readonly key: string; readonly value: string; readonly previous: string | null }
  | { readonly kind: 'setLinkUp'; readonly interface: string }
  | { readonly kind: 'solicitRouters'; readonly interface: string }
  | ({ readonly kind: 'addAddress' } & OwnedAddress)
  | ({ readonly kind: 'removeAddress' } & OwnedAddress)
  | { readonly kind: 'replaceDefaultRoute'; readonly gateway: string; readonly interface: string }
  | { readonly kind: 'removeDefaultRoute'; readonly gateway: string; readonly interface: string; readonly protocol: string }
  /** Each one `ip -6 route replace`, all in one `ip -batch`: a move is the one replace of its route. */
  | { readonly kind: 'replaceRoutedRoutes'; readonly routes: readonly RoutedRoute[] }
  | { readonly kind: 'removeRoutedRoutes'; readonly routes: readonly RoutedRoute[] }
  | { readonly kind: 'writeInterfacesFile'; readonly content: string }
  | { readonly kind: 'writeRadvdConfig'; readonly content: string }
  | { readonly kind: 'removeRadvdConfig' }
  | { readonly kind: 'startRadvd'; readonly drift: readonly string[]; readonly loads: DaemonLoad }
  | { readonly kind: 'reloadRadvd'; readonly pid: number; readonly loads: DaemonLoad }
  | { readonly kind: 'stopRadvd'; readonly pid: number; readonly isSilent: boolean; readonly loads: DaemonLoad }
  | { readonly kind: 'writeFrrConfig'; readonly content: string }
  | { readonly kind: 'removeFrrConfig' }
  | { readonly kind: 'startFrrDaemon'; readonly daemon: FrrDaemon; readonly drift: readonly string[]; readonly loads: DaemonLoad }
  | {
      readonly kind: 'configureZebra';
      readonly commands: string;
      readonly interfaces: readonly string[];
      readonly drift: readonly string[];
      readonly loads: DaemonLoad;
    }
  | {
      readonly kind: 'configureRouting';
      readonly commands: string;
      /** Peers whose import policy changed: a route refresh (RFC 2918) applies it without a reset. */
      readonly refreshPeers: readonly string[];
      /** vtysh commands, not config, that make the config take effect: `clear ipv6 ospf6 process` for a new OSPF router ID. */
      readonly clears: readonly string[];
      /** Removed lines the daemon keeps printing until its own timer: the step waits until they are gone. */
      readonly lingering: readonly { readonly daemon: FrrDaemon; readonly line: string }[];
      readonly drift: readonly string[];
      readonly loads: DaemonLoad;
    }
  | { readonly kind: 'stopFrrDaemon'; readonly daemon: FrrDaemon; readonly pid: number; readonly isSilent: boolean; readonly loads: DaemonLoad }
  | { readonly kind: 'checkKeepalivedConfig'; readonly content: string }
  | { readonly kind: 'writeKeepalivedConfig'; readonly content: string }
  | { readonly kind: 'removeKeepalivedConfig' }
  | { readonly kind: 'startKeepalived'; readonly drift: readonly string[]; readonly loads: DaemonLoad }
  | { readonly kind: 'reloadKeepalived'; readonly pid: number; readonly loads: DaemonLoad }
  /** Stops keepalived's parent (SIGTERM: it withdraws its addresses and tells the peer), or SIGKILLs an orphaned VRRP child; waits until it is gone. */
  | { readonly kind: 'stopKeepalived'; readonly pid: number; readonly isOrphan: boolean; readonly loads: DaemonLoad }
  /** Deletes a virtual-MAC interface a dead keepalived left, and with it the virtual addresses the peer now holds. */
  | { readonly kind: 'removeVirtualMac'; readonly interface: string; readonly drift: readonly string[] }
  | { readonly kind: 'writeConntrackdConfig'; readonly content: string }
  | { readonly kind: 'removeConntrackdConfig' }
  | { readonly kind: 'startConntrackd'; readonly drift: readonly string[]; readonly loads: DaemonLoad }
  /** conntrackd re-reads nothing on a signal: a new config is a stop (waited for) and a start. */
  | { readonly kind: 'stopConntrackd'; readonly pid: number; readonly loads: DaemonLoad };

/** The kinds of step, for executor maps. */
export type StepKind = Step['kind'];

/** The component a step belongs to, as reported upstream in `applied`. */
export type Component = 'firewall' | 'sysctls' | 'links' | 'addresses' | 'routes' | 'interfaces-file' | 'radvd' | 'frr' | 'vrrp';

const COMPONENT_OF: Record<StepKind, Component> = {
  checkRadvdConfig: 'radvd',
  checkFrrConfig: 'frr',
  loadRuleset: 'firewall',
  loadRulesetStaged: 'firewall',
  updateRuleset: 'firewall',
  setSysctl: 'sysctls',
  setLinkUp: 'links',
  solicitRouters: 'links',
  addAddress: 'addresses',
  removeAddress: 'addresses',
  replaceDefaultRoute: 'routes',
  removeDefaultRoute: 'routes',
  replaceRoutedRoutes: 'routes',
  removeRoutedRoutes: 'routes',
  writeInterfacesFile: 'interfaces-file',
  writeRadvdConfig: 'radvd',
  removeRadvdConfig: 'radvd',
  startRadvd: 'radvd',
  reloadRadvd: 'radvd',
  stopRadvd: 'radvd',
  writeFrrConfig: 'frr',
  removeFrrConfig: 'frr',
  startFrrDaemon: 'frr',
  configureZebra: 'frr',
  configureRouting: 'frr',
  stopFrrDaemon: 'frr',
  checkKeepalivedConfig: 'vrrp',
  writeKeepalivedConfig: 'vrrp',
  removeKeepalivedConfig: 'vrrp',
  startKeepalived: 'vrrp',
  reloadKeepalived: 'vrrp',
  stopKeepalived: 'vrrp',
  removeVirtualMac: 'vrrp',
  writeConntrackdConfig: 'vrrp',
  removeConntrackdConfig: 'vrrp',
  startConntrackd: 'vrrp',
  stopConntrackd: 'vrrp',
};

/** Every component, in the order a report lists them. */
export const COMPONENTS: readonly Component[] = ['firewall', 'sysctls', 'links', 'addresses', 'routes', 'interfaces-file', 'radvd', 'frr', 'vrrp'];

/** The component a step belongs to. */
export function componentOf(step: Step): Component {
  return COMPONENT_OF[step.kind];
}

/** A one-line human description of a step, for logs and dry runs. */
export function describeStep(step: Step): string {
  switch (step.kind) {
    case 'setSysctl':
      return `sysctl ${step.key}: ${step.previous ?? '(unset)'} -> ${step.value}`;
    case 'addAddress':
    case 'removeAddress':
      return `${step.kind} ${step.address}/${step.prefixLength} dev ${step.interface}`;
    case 'replaceDefaultRoute':
    case 'removeDefaultRoute':
      return `${step.kind} via ${step.gateway} dev ${step.interface}`;
    case 'setLinkUp':
    case 'solicitRouters':
      return `${step.kind} ${step.interface}`;
    case 'replaceRoutedRoutes':
    case 'removeRoutedRoutes':
      return `${step.kind} ${describeRoutes(step.routes)}`;
    case 'reloadRadvd':
    case 'reloadKeepalived':
      return `${step.kind} pid ${step.pid}`;
    case 'stopConntrackd':
      return `stopConntrackd pid ${step.pid}`;
    case 'stopKeepalived':
      return `stopKeepalived pid ${step.pid}${step.isOrphan ? ' (a VRRP child whose parent died: SIGKILL)' : ''}`;
    case 'removeVirtualMac':
      return `removeVirtualMac ${step.interface}`;
    case 'startFrrDaemon':
      return `start ${step.daemon}`;
    case 'stopFrrDaemon':
    case 'stopRadvd':
      return `${step.kind === 'stopRadvd' ? 'stopRadvd' : `stop ${step.daemon}`} pid ${step.pid}${step.isSilent ? ' silently (SIGKILL: the other backend takes over, guests keep their router)' : ''}`;
    case 'configureZebra':
      return `configureZebra ${step.interfaces.join(' ')}: ${step.commands.trim().split('\n').filter((l) => l.startsWith(' ')).map((l) => l.trim()).join('; ')}`;
    case 'configureRouting':
      return `configureRouting: ${step.commands.trim().split('\n').map((l) => l.trim()).join('; ')}${step.refreshPeers.length > 0 ? `; refresh ${step.refreshPeers.join(' ')}` : ''}${step.clears.map((c) => `; ${c}`).join('')}`;
    case 'loadRuleset':
      return `loadRuleset (${step.document.length} bytes)`;
    case 'loadRulesetStaged':
      return `loadRulesetStaged (${step.documents.length} transactions, ${step.documents.reduce((n, d) => n + d.nftables.length, 0)} commands)`;
    case 'updateRuleset':
      return `updateRuleset ${step.chains.join(' ')} (${step.document.length} bytes)`;
    default:
      return step.kind;
  }
}

/**
 * What a step put back, for the report's `repaired`. Ruleset and daemon steps
 * name their own drift; any other step taken towards the rendering the host
 * had already converged to undoes someone else's change (a sysctl flipped, a
 * gateway removed, a link taken down), since the desired state is the same.
 */
export function describeRepair(step: Step, isRepair: boolean): readonly string[] {
  if ('drift' in step) return step.drift;
  if (!isRepair) return [];
  switch (step.kind) {
    case 'setSysctl':
      return [`sysctl ${step.key} was ${step.previous ?? 'unset'}`];
    case 'addAddress':
      return [`address ${step.address}/${step.prefixLength} was missing on ${step.interface}`];
    case 'setLinkUp':
      return [`link ${step.interface} was down`];
    case 'replaceRoutedRoutes':
      return step.routes.map((route) => `route ${route.destination} was missing or elsewhere`);
    case 'checkRadvdConfig':
    case 'checkFrrConfig':
    case 'checkKeepalivedConfig':
    case 'solicitRouters':
      return [];
    default:
      return [`${describeStep(step)} (the host had drifted)`];
  }
}

// A plan of a thousand routes is logged as its first few.
function describeRoutes(routes: readonly RoutedRoute[]): string {
  const shown = routes.slice(0, 3).map((r) => `${r.destination} via ${r.gateway} dev ${r.interface}`);
  return routes.length > 3 ? `${shown.join(', ')} and ${routes.length - 3} more` : shown.join(', ');
}
