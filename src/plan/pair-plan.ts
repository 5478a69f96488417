import type { RenderedHost } from '../render/host-facts.js';
import type { ObservedHost } from '../model/observed.js';
import { isVmacInterface } from '../schema/redundancy.js';
import type { Ledger } from './ledger.js';
import type { Step } from './steps.js';

/**
 * keepalived's steps: its config checked before it is written, the daemon
 * started, reloaded (SIGHUP) or stopped. A keepalived that died (SIGKILL,
 * OOM) leaves its virtual MAC interfaces and virtual addresses up, and the
 * dead primary would go on answering for the gateway beside the new one
 * (docs/redundancy.md): before a new keepalived starts, an orphaned VRRP
 * child is killed and waited for, and every virtual MAC interface left
 * behind is deleted, with the addresses on it.
 */
export function planKeepalived(rendered: RenderedHost, observed: ObservedHost, ledger: Ledger, present: (ifname: string) => boolean): Step[] {
  const want = rendered.keepalived;
  const { config, pid, vrrpPid } = observed.keepalived;
  const leftovers = observed.links.filter((link) => isVmacInterface(link.name)).map((link) => link.name);
  if (want === null) {
    if (pid !== null) return [{ kind: 'stopKeepalived', pid, isOrphan: false, loads: { daemon: 'keepalived', config: null } }];
    if (vrrpPid !== null) return [{ kind: 'stopKeepalived', pid: vrrpPid, isOrphan: true, loads: { daemon: 'keepalived', config: null } }];
    return [
      ...leftovers.map((ifname) => ({ kind: 'removeVirtualMac', interface: ifname, drift: [] }) as const),
      ...(config !== null ? [{ kind: 'removeKeepalivedConfig' } as const] : []),
    ];
  }
  // keepalived refuses a config that names a missing interface; planSteps warns of it.
  if (!want.instances.every((instance) => present(instance.interface))) return [];
  const steps: Step[] = config === want.text ? [] : [{ kind: 'checkKeepalivedConfig', content: want.text }, { kind: 'writeKeepalivedConfig', content: want.text }];
  const loaded = ledger.loaded.get('keepalived');
  const loads = { daemon: 'keepalived', config: want.text } as const;
  if (pid === null) {
    if (vrrpPid !== null) return [...steps, { kind: 'stopKeepalived', pid: vrrpPid, isOrphan: true, loads: { daemon: 'keepalived', config: null } }];
    const wasRunning = loaded !== undefined;
    const withdrawn = leftovers.map((ifname) => ({
      kind: 'removeVirtualMac',
      interface: ifname,
      drift: [`keepalived was not running: withdrew ${ifname} and the virtual addresses on it`],
    }) as const);
    steps.push(...withdrawn, { kind: 'startKeepalived', drift: wasRunning && withdrawn.length === 0 ? ['keepalived was not running'] : [], loads });
  } else if (config !== want.text || loaded !== want.text) {
    steps.push({ kind: 'reloadKeepalived', pid, loads });
  }
  return steps;
}

/**
 * conntrackd's steps: started once its sync link exists (its address
 * comes first, in planAddresses), restarted on a new config, stopped when
 * the state has no state sync.
 */
export function planConntrackd(rendered: RenderedHost, observed: ObservedHost, ledger: Ledger, present: (ifname: string) => boolean): Step[] {
  const want = rendered.conntrackdConf;
  const { config, pid } = observed.conntrackd;
  const stops = { daemon: 'conntrackd', config: null } as const;
  if (want === null) {
    return [...(pid !== null ? [{ kind: 'stopConntrackd', pid, loads: stops } as const] : []), ...(config !== null ? [{ kind: 'removeConntrackdConfig' } as const] : [])];
  }
  if (!rendered.interfaces.every(present)) return [];
  const loaded = ledger.loaded.get('conntrackd');
  const steps: Step[] = config === want ? [] : [{ kind: 'writeConntrackdConfig', content: want }];
  if (pid !== null && (config !== want || loaded !== want)) steps.push({ kind: 'stopConntrackd', pid, loads: stops });
  if (pid === null || config !== want || loaded !== want) {
    steps.push({ kind: 'startConntrackd', drift: pid === null && loaded !== undefined ? ['conntrackd was not running'] : [], loads: { daemon: 'conntrackd', config: want } });
  }
  return steps;
}
