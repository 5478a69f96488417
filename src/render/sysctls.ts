import type { DesiredState } from '../schema/desired-state.js';
import { isDefaultFromBgp } from '../schema/routing.js';

/** One kernel knob the agent owns, keyed as a path under /proc/sys. */
export interface SysctlSetting {
  readonly key: string;
  readonly value: string;
}

/** The key of IPv6 forwarding, which must wait for the filter (see planSteps). */
export const FORWARDING_KEY = 'net/ipv6/conf/all/forwarding';

const conf = (ifname: string, knob: string, value: string): SysctlSetting => ({
  key: `net/ipv6/conf/${ifname}/${knob}`,
  value,
});

/**
 * The sysctls a desired state needs, per interface: conf.default reaches only
 * interfaces created later (docs/field-notes.md#kernel), so every knob names its
 * interface. Knobs the state says nothing about keep the kernel's value.
 */
export function renderSysctls(state: DesiredState): SysctlSetting[] {
  const pub = state.public.interface;
  const isSlaac = state.public.mode === 'slaac';
  const settings: SysctlSetting[] = [
    conf(pub, 'disable_ipv6', '0'),
    // A forwarding host ignores RAs unless accept_ra=2 (RFC 4861 §6.2.1 allows
    // a router to accept them; Linux needs the explicit 2).
    conf(pub, 'accept_ra', isSlaac ? '2' : '0'),
    conf(pub, 'autoconf', isSlaac ? '1' : '0'),
    // The address still comes from the RAs; the default route, when a BGP peer gives it, does not.
    conf(pub, 'accept_ra_defrtr', isSlaac && !isDefaultFromBgp(state) ? '1' : '0'),
    // Temporary addresses (RFC 8981) would make the upstream's static route
    // point at an address that changes: the VR needs one stable address.
    conf(pub, 'use_tempaddr', '0'),
    // EUI-64, the identifier CloudStack computes from the NIC's MAC.
    conf(pub, 'addr_gen_mode', '0'),
  ];
  // The VR is the router on guest links, so it must never learn from RAs there; on a shared link the upstream
  // is the router, but the VR's default route and address come from elsewhere.
  for (const network of [...state.guestNetworks, ...state.sharedNetworks]) {
    settings.push(conf(network.interface, 'disable_ipv6', '0'), conf(network.interface, 'accept_ra', '0'), conf(network.interface, 'autoconf', '0'));
  }
  settings.push({ key: FORWARDING_KEY, value: '1' });
  return settings;
}
