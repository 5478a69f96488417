import type { z } from 'zod';
import { digestText } from '../model/digest.js';
import type { CloudStackPairConfig } from '../schema/agent-config.js';
import type { DesiredState } from '../schema/desired-state.js';
import type { FieldError } from '../schema/validation.js';
import type { CmdlineBag } from './databags.js';
import { fieldError, type Provenance } from './provenance.js';

type DesiredSpec = z.input<typeof DesiredState>;

/**
 * A CloudStack redundant router as the desired state's redundancy section
 * (docs/cloudstack.md#redundant-routers). CloudStack runs its own keepalived
 * for IPv4 only (virtual_router_id 51 on the guest link, `nopreempt`, equal
 * priorities, `advert_int` from the boot parameters); the agent's VRRPv3
 * instances for IPv6 are a separate address family (RFC 5798 §7.3: the IPv6
 * virtual MAC is 00:00:5e:00:02:<id>), so the two never meet.
 */

// CsCmdLine.get_advert_int: one second when the boot parameters carry none.
const CLOUDSTACK_ADVERT_SECONDS = 1;
// keepalived's default priority, which CloudStack's own template leaves on both VRs.
const EQUAL_PRIORITY = 100;
const VRRP_IDS = 255;

/**
 * The spec with the redundancy section, when cmdline.json says
 * `redundant_router`: the public address CloudStack gives both VRs becomes
 * the pair's shared `publicAddress`, and each VR takes its own public address
 * by SLAAC. Errors, at a databag field, for what cannot be mapped.
 */
export function translatePair(
  spec: DesiredSpec,
  config: CmdlineBag['config'],
  pair: CloudStackPairConfig | undefined,
  provenance: Provenance,
  errors: FieldError[],
): DesiredSpec {
  if (config.redundant_router !== true) return spec;
  const flag = (message: string) => errors.push(fieldError('cmdline', ['config', 'redundant_router'], message));
  const pub = spec.public;
  if (pub.mode !== 'static' || pub.address === undefined) {
    flag('is true, but no public IPv6 address came for the pair to share (cmdline.json <public>ip6, or a tier\'s router_ip6): the upstream routes the guest prefixes to it');
    return spec;
  }
  if (pair === undefined) {
    flag('is true, but CloudStack sends no sync link between the two VRs: name it in agent.json at $.cloudstack.pair.peer (docs/cloudstack.md#redundant-routers)');
    return spec;
  }
  provenance.copy(['public', 'address'], ['redundancy', 'publicAddress']);
  provenance.record(['redundancy'], 'cmdline', ['config', 'redundant_router']);
  provenance.record(['redundancy', 'priority'], 'cmdline', ['config', 'router_pr']);
  provenance.record(['redundancy', 'advertisementIntervalCentiseconds'], 'cmdline', ['config', 'advert_int']);
  provenance.record(['redundancy', 'vrrpId'], pair.vrrpId === undefined ? 'cmdline' : 'agent', pair.vrrpId === undefined ? ['config', 'router_id'] : ['cloudstack', 'pair', 'vrrpId']);
  provenance.record(['redundancy', 'peer'], 'agent', ['cloudstack', 'pair', 'peer']);
  const publicAddress = pub.address as string;
  return {
    ...spec,
    // Both VRs got the same address: it is the pair's, held by the primary; each VR's own comes by SLAAC.
    public: { interface: pub.interface, mode: 'slaac', ...(pub.expectedPrefix === undefined ? {} : { expectedPrefix: pub.expectedPrefix }) },
    redundancy: {
      vrrpId: pair.vrrpId ?? vrrpIdOf(config.router_id, publicAddress.split('/')[0]!),
      priority: config.router_pr ?? EQUAL_PRIORITY,
      advertisementIntervalCentiseconds: 100 * (config.advert_int ?? CLOUDSTACK_ADVERT_SECONDS),
      // CloudStack's keepalived template says nopreempt: the primary stays primary when the other returns.
      preempt: false,
      peer: { ...pair.peer, localAddress: `${pair.peer.localAddress.address}/${pair.peer.localAddress.length}` },
      publicAddress,
    },
  };
}

/**
 * The VRRP id both VRs of a pair derive alike: CloudStack's `router_id` (a
 * VPC's id, which it sends to both VRs of a VPC "for the VRRP
 * virtual_router_id"), folded into 1-255; an isolated network's pair gets
 * none, so a digest of the public address they share, which differs between
 * the pairs that meet on a public link.
 */
export function vrrpIdOf(routerId: number | undefined, publicAddress: string): number {
  const basis = routerId ?? Number.parseInt(digestText(publicAddress).slice(0, 8), 16);
  return 1 + (((basis - 1) % VRRP_IDS) + VRRP_IDS) % VRRP_IDS;
}
