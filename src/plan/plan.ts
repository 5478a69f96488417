import { FORWARDING_KEY } from '../render/sysctls.js';
import type { OwnedAddress, RenderedHost } from '../render/host-facts.js';
import type { ObservedHost } from '../model/observed.js';
import { ROUTE_PROTOCOL } from '../model/ownership.js';
import { FRR_DAEMONS, routingDaemonOf } from '../model/frr-config.js';
import { planFrrChange } from './frr-plan.js';
import { planRoutingChange } from './frr-routing-plan.js';
import type { Daemon, Step } from './steps.js';
import { planRoutedRoutes } from './routed-plan.js';
import { planRuleset } from './ruleset-plan.js';
import type { Ledger } from './ledger.js';
import { planConntrackd, planKeepalived } from './pair-plan.js';
import { isVmacInterface } from '../schema/redundancy.js';

/** A plan: the steps in order, and what keeps parts of the state from being applied. */
export interface Plan {
  readonly steps: Step[];
  readonly warnings: string[];
}

/**
 * Compares the rendered host with the observed one and returns what to do.
 * The order is the safety argument: checks that can fail on content come
 * first, the atomic ruleset load before anything else changes, and forwarding
 * only after the filter is in place.
 */
export function planSteps(rendered: RenderedHost, observed: ObservedHost, ledger: Ledger): Plan {
  const linkNames = new Set(observed.links.map((link) => link.name));
  const missing = rendered.interfaces.filter((name) => !linkNames.has(name));
  const present = (ifname: string) => linkNames.has(ifname);
  const routed = planRoutedRoutes(rendered, observed.prefixRoutes, present);
  const warnings = [...missing.map((name) => `interface ${name} does not exist; its settings wait for it`), ...routed.warnings];
  const steps: Step[] = [
    ...planRaConfigChecks(rendered, observed, ledger.checkedConfigs),
    ...planRuleset(rendered, observed.ruleset, ledger.ruleset),
    ...planSysctls(rendered, observed, (key) => key !== FORWARDING_KEY),
    ...planLinks(rendered, observed, present),
    ...planAddresses(rendered, observed, ledger, present),
    ...planDefaultRoute(rendered, observed, present),
    // After the addresses: a next hop inside a guest /64 is on-link only once the gateway's /64 is on the link.
    ...routed.steps,
    ...(observed.interfacesFile === rendered.interfacesFile ? [] : [{ kind: 'writeInterfacesFile', content: rendered.interfacesFile } as const]),
    ...planSysctls(rendered, observed, (key) => key === FORWARDING_KEY),
    // Before radvd: its interfaces in a pair are keepalived's virtual-MAC ones.
    ...planConntrackd(rendered, observed, ledger, present),
    ...planKeepalived(rendered, observed, ledger, present),
    ...planRaSenders(rendered, observed, ledger),
  ];
  return { steps, warnings };
}

function planSysctls(rendered: RenderedHost, observed: ObservedHost, include: (key: string) => boolean): Step[] {
  const steps: Step[] = [];
  for (const { key, value } of rendered.sysctls) {
    if (!include(key)) continue;
    const current = observed.sysctls.get(key) ?? null;
    // A missing key means a missing interface; planLinks reports it.
    if (current === null || current === value) continue;
    steps.push({ kind: 'setSysctl', key, value, previous: current });
  }
  const acceptRa = `net/ipv6/conf/${rendered.publicInterface}/accept_ra`;
  const changesAcceptRa = steps.some((s) => s.kind === 'setSysctl' && s.key === acceptRa);
  // The kernel solicits routers only when a link comes up; after turning RAs
  // on, ask at once instead of waiting up to MaxRtrAdvInterval (RFC 4861 §6.3.7).
  if (changesAcceptRa && rendered.isPublicSlaac) steps.push({ kind: 'solicitRouters', interface: rendered.publicInterface });
  return steps;
}

function planLinks(rendered: RenderedHost, observed: ObservedHost, present: (ifname: string) => boolean): Step[] {
  return rendered.interfaces
    .filter((name) => present(name) && observed.links.find((link) => link.name === name)?.isUp === false)
    .map((name) => ({ kind: 'setLinkUp', interface: name }));
}

const sameAddress = (a: OwnedAddress, b: OwnedAddress) =>
  a.interface === b.interface && a.address === b.address && a.prefixLength === b.prefixLength;

function planAddresses(rendered: RenderedHost, observed: ObservedHost, ledger: Ledger, present: (ifname: string) => boolean): Step[] {
  const isHealthy = (want: OwnedAddress) => observed.addresses.some((have) => sameAddress(have, want) && !have.isDadFailed);
  const adds: Step[] = rendered.addresses
    .filter((want) => present(want.interface) && !isHealthy(want))
    .map((want) => ({ kind: 'addAddress', ...want }));
  const removes: Step[] = ledger.ownedAddresses
    .filter((owned) => !rendered.addresses.some((want) => sameAddress(want, owned)))
    .filter((owned) => observed.addresses.some((have) => sameAddress(have, owned)))
    .map((owned) => ({ kind: 'removeAddress', ...owned }));
  return [...removes, ...adds];
}

function planDefaultRoute(rendered: RenderedHost, observed: ObservedHost, present: (ifname: string) => boolean): Step[] {
  const ours = observed.routes.filter((r) => r.destination === 'default' && r.protocol === ROUTE_PROTOCOL);
  const want = rendered.defaultRoute;
  const stale = ours.filter((r) => want === null || r.gateway !== want.gateway || r.interface !== want.interface);
  // When BGP gives the default route, an RA's would win over it in zebra (a kernel route) and in the kernel:
  // one learned before RAs stopped counting (accept_ra_defrtr) goes now, not at the end of its lifetime.
  const fromRa = rendered.isDefaultFromBgp ? observed.routes.filter((r) => r.destination === 'default' && r.protocol === 'ra' && r.interface === rendered.publicInterface) : [];
  const steps: Step[] = [...stale, ...fromRa].map((r) => ({ kind: 'removeDefaultRoute', gateway: r.gateway ?? '', interface: r.interface ?? '', protocol: r.protocol }));
  if (want !== null && present(want.interface) && ours.length === stale.length) {
    steps.push({ kind: 'replaceDefaultRoute', gateway: want.gateway, interface: want.interface });
  }
  return steps;
}

function planRaConfigChecks(rendered: RenderedHost, observed: ObservedHost, checked: ReadonlySet<string>): Step[] {
  const radvd = rendered.radvdConf;
  const frr = rendered.frr?.text ?? null;
  const needsCheck = (content: string | null, onHost: string | null): content is string => content !== null && content !== onHost && !checked.has(content);
  return [
    ...(needsCheck(radvd, observed.radvd.config) ? [{ kind: 'checkRadvdConfig', content: radvd } as const] : []),
    ...(needsCheck(frr, observed.frr.config) ? [{ kind: 'checkFrrConfig', content: frr } as const] : []),
  ];
}

/**
 * Exactly one RA sender per link: the backend that is not wanted stops
 * first, then the wanted one starts or is brought up to date. When one
 * backend hands over to the other, the old one is stopped silently: a
 * goodbye RA (router lifetime 0) would take every guest's default route
 * away until the new sender's first RA (docs/research/ra-backends.md).
 */
function planRaSenders(rendered: RenderedHost, observed: ObservedHost, ledger: Ledger): Step[] {
  const wantsRadvd = rendered.radvdConf !== null;
  const wantsFrr = rendered.frr !== null;
  const steps: Step[] = [];
  if (!wantsRadvd && observed.radvd.pid !== null) {
    // A pair's radvd may send from the shared link-local address: its goodbye would take the gateway from every guest.
    const isSilent = rendered.frr?.sendsRas === true || observed.links.some((link) => isVmacInterface(link.name));
    steps.push({ kind: 'stopRadvd', pid: observed.radvd.pid, isSilent, loads: { daemon: 'radvd', config: null } });
  }
  for (const daemon of FRR_DAEMONS) {
    const pid = observed.frr.pids[daemon];
    if (pid === null || rendered.frr?.daemons.includes(daemon)) continue;
    // bgpd's SIGTERM tells its peers (Cease), which withdraw its routes at once.
    const isSilent = daemon === 'zebra' && wantsRadvd;
    steps.push({ kind: 'stopFrrDaemon', daemon, pid, isSilent, loads: { daemon, config: null } });
  }
  if (!wantsRadvd && observed.radvd.config !== null) steps.push({ kind: 'removeRadvdConfig' });
  if (!wantsFrr && observed.frr.config !== null) steps.push({ kind: 'removeFrrConfig' });
  return [...steps, ...planRadvd(rendered, observed, ledger), ...planFrr(rendered, observed, ledger)];
}

function planRadvd(rendered: RenderedHost, observed: ObservedHost, ledger: Ledger): Step[] {
  const { config, pid } = observed.radvd;
  const content = rendered.radvdConf;
  if (content === null) return [];
  const steps: Step[] = config === content ? [] : [{ kind: 'writeRadvdConfig', content }];
  const loaded = ledger.loaded.get('radvd');
  const loads = { daemon: 'radvd', config: content } as const;
  // SIGHUP, never a restart: radvd's exit sends router lifetime 0 and guests lose their default router.
  // A radvd that ran our config and is gone died: restarting it is a repair worth reporting.
  if (pid === null) steps.push({ kind: 'startRadvd', drift: loaded === undefined ? [] : ['radvd was not running'], loads });
  else if (config !== content || loaded !== content) steps.push({ kind: 'reloadRadvd', pid, loads });
  return steps;
}

/**
 * Every FRR daemon starts from an empty config, and the next pass brings
 * it to frr.conf by commands; a running one is changed by commands, never
 * restarted. A daemon that ran the agent's config and is gone died, and
 * starting it again is a repair worth reporting.
 */
function planFrr(rendered: RenderedHost, observed: ObservedHost, ledger: Ledger): Step[] {
  const frr = rendered.frr;
  if (frr === null) return [];
  const { config, pids, running, routing } = observed.frr;
  const steps: Step[] = config === frr.text ? [] : [{ kind: 'writeFrrConfig', content: frr.text }];
  for (const daemon of frr.daemons) {
    if (pids[daemon] !== null) continue;
    const loaded = ledger.loaded.get(daemon);
    steps.push({ kind: 'startFrrDaemon', daemon, drift: loaded === undefined ? [] : [`${daemon} was not running`], loads: { daemon, config: '' } });
  }
  if (pids.zebra !== null) {
    const change = planFrrChange(frr.interfaces, running ?? new Map());
    if (change.commands !== '') {
      // The running zebra was at this very config: someone else changed it.
      const drift = ledger.loaded.get('zebra') === frr.text ? [`zebra's RA settings differed from frr.conf on ${change.touchedInterfaces.join(', ')}`] : [];
      steps.push({ kind: 'configureZebra', commands: change.commands, interfaces: change.changedInterfaces, drift, loads: { daemon: 'zebra', config: frr.text } });
    }
  }
  // Routing waits for all its daemons: a peer's `bfd` line asks bfdd for a session.
  const isRoutingUp = frr.daemons.every((daemon) => pids[daemon] !== null);
  if (frr.routing.length > 0 && isRoutingUp) {
    // A daemon on its way out is told nothing: its lines go with it.
    const running = (routing ?? []).filter((entry) => frr.daemons.includes(routingDaemonOf(entry) ?? 'zebra'));
    const change = planRoutingChange(frr.routing, running);
    // The protocol's own daemon, after zebra: bgpd or ospf6d.
    const daemon = frr.daemons[1]!;
    if (change.commands !== '') {
      const drift = ledger.loaded.get(daemon) === frr.text ? [`${daemon}'s config differed from frr.conf`] : [];
      const { commands, refreshPeers, clears, lingering } = change;
      steps.push({ kind: 'configureRouting', commands, refreshPeers, clears, lingering, drift, loads: { daemon, config: frr.text } });
    }
  }
  return steps;
}
