import type { FirewallLab } from './firewall-lab.js';
import { IF, NS } from './topology.js';
import { labDesiredState } from './vr-lab.js';

/**
 * The routed-prefix lab on top of the firewall lab: the web tier's guest
 * namespace becomes a switch (a bridge) with two instances behind it that
 * hold the same address of one routed /56, for the lab test and the bench.
 */

/** The routed /56 and the address inside it that both instances hold. */
export const ROUTED = '2001:db8:300::/56';
export const TARGET = '2001:db8:300::1';
/** The two instances on the web tier: namespace and address. */
export const INSTANCE = { a: { ns: 'ia', address: '2001:db8:200:1::a' }, b: { ns: 'ib', address: '2001:db8:200:1::b' } } as const;

/** The lab's state, schemaVersion 2, routing the /56 (and `extra` more /56s, via the same next hop) to `nextHop`. */
export function routedState(nextHop: string, extra = 0): Record<string, any> {
  const spec = labDesiredState();
  spec.schemaVersion = 2;
  const others = Array.from({ length: extra }, (_, i) => ({ prefix: `2001:db8:${(0x4000 + i).toString(16)}::/56`, nextHop: INSTANCE.a.address }));
  spec.guestNetworks[0].routedPrefixes = [{ prefix: ROUTED, nextHop, description: 'lab /56' }, ...others];
  return spec;
}

/** Echo requests the namespace's kernel has answered so far (RFC 4443 §4.1): who replied. */
export async function echoesAnswered(fw: FirewallLab, ns: string): Promise<number> {
  const snmp = (await fw.lab.exec(ns, ['cat', '/proc/net/snmp6'])).stdout;
  return Number(/^Icmp6OutEchoReplies\s+(\d+)$/m.exec(snmp)?.[1] ?? 'NaN');
}

/** Turns the guest namespace g1 into the tier's switch and hangs two instances off it. */
export async function addInstances(fw: FirewallLab): Promise<void> {
  const { lab } = fw;
  await lab.exec(NS.g1, ['ip', 'link', 'add', 'br0', 'type', 'bridge']);
  await lab.exec(NS.g1, ['ip', 'link', 'set', IF.guest, 'master', 'br0']);
  await lab.exec(NS.g1, ['ip', 'link', 'set', 'br0', 'up']);
  for (const [key, instance] of Object.entries(INSTANCE)) {
    await lab.addNamespace(instance.ns);
    await lab.addLink(NS.g1, `p${key}`, instance.ns, IF.guest);
    await lab.exec(NS.g1, ['ip', 'link', 'set', `p${key}`, 'master', 'br0']);
    await lab.exec(instance.ns, ['ip', '-6', 'addr', 'add', `${instance.address}/64`, 'dev', IF.guest, 'nodad']);
    // On lo: this machine's kernel has no dummy driver, and lo holds a local address as a dummy would.
    await lab.exec(instance.ns, ['ip', '-6', 'addr', 'add', `${TARGET}/128`, 'dev', 'lo']);
    await lab.exec(instance.ns, ['ip', '-6', 'route', 'replace', 'default', 'via', '2001:db8:200:1::1', 'dev', IF.guest]);
  }
}

