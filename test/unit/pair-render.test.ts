import { describe, expect, it } from 'vitest';
import { formatFrrLines } from '../../src/model/frr-config.js';
import { parseRoutingRunning } from '../../src/observe/frr-running.js';
import { planRoutingChange } from '../../src/plan/frr-routing-plan.js';
import { renderBgpLines } from '../../src/render/frr-bgp.js';
import { renderKeepalivedConf } from '../../src/render/keepalived-conf.js';
import { keepalivedFilesOf } from '../../src/model/file-layout.js';
import { DesiredState } from '../../src/schema/desired-state.js';
import { bgpInput, redundantInput } from '../support/states.js';

/** bgpInput's VR as one of a pair. */
function pairBgpInput(): Record<string, any> {
  return { ...redundantInput(), routing: bgpInput().routing };
}

describe('what a VR of a pair renders', () => {
  it('announces with the pair’s addresses as next hop, global and link-local, and a single VR with its own', () => {
    const announceMap = (input: Record<string, any>) =>
      renderBgpLines(DesiredState.parse(input))
        .filter(({ context }) => context[0] === 'route-map VR6-ANNOUNCE permit 10')
        .map(({ line }) => line);
    expect(announceMap(pairBgpInput())).toEqual([
      'match ipv6 address prefix-list VR6-ANNOUNCE',
      'set ipv6 next-hop global 2001:db8:100::100',
      // RFC 4291 §2.5.6: the EUI-64 address of the virtual MAC 00:00:5e:00:02:33.
      'set ipv6 next-hop local fe80::200:5eff:fe00:233',
    ]);
    expect(announceMap(bgpInput())).toEqual(['match ipv6 address prefix-list VR6-ANNOUNCE']);
  });
});

describe('keepalived.conf of a pair', () => {
  const render = (input: Record<string, any>) => renderKeepalivedConf(DesiredState.parse(input), keepalivedFilesOf('/run/vr6-agent'))!.text;

  it('makes no sync group of the public instance alone, which keepalived -t refuses (a VPC pair before its first tier)', () => {
    const text = render({ ...redundantInput(), guestNetworks: [] });
    expect(text.match(/^vrrp_instance \S+/gm)).toEqual(['vrrp_instance eth1']);
    expect(text).not.toContain('vrrp_sync_group');
  });

  it('delays preemption by 10 s with BGP, by nothing without, by what the state says when it says', () => {
    const delays = (input: Record<string, any>) => [...render(input).matchAll(/^\s+(preempt_delay \d+|nopreempt)$/gm)].map((m) => m[1]);
    const withBgp = pairBgpInput();
    expect(delays(withBgp)).toEqual(['preempt_delay 10', 'preempt_delay 10']);
    expect(delays(redundantInput())).toEqual([]);
    expect(delays({ ...withBgp, redundancy: { ...withBgp.redundancy, preemptDelaySeconds: 0 } })).toEqual([]);
    expect(delays({ ...redundantInput(), redundancy: { ...redundantInput().redundancy, preemptDelaySeconds: 30 } })).toEqual(['preempt_delay 30', 'preempt_delay 30']);
    expect(delays({ ...withBgp, redundancy: { ...withBgp.redundancy, preempt: false } })).toEqual(['nopreempt', 'nopreempt']);
  });

  it('puts the public and every guest instance in one sync group', () => {
    const text = render(redundantInput());
    expect(text).toContain('vrrp_sync_group vr6 {\n    group {\n        eth1\n        eth2\n    }\n}');
  });
});

describe('the routing plan of a VR that joins or leaves a pair', () => {
  const linesOf = (input: Record<string, any>) => renderBgpLines(DesiredState.parse(input));
  const runningAfter = (lines: ReturnType<typeof linesOf>) => parseRoutingRunning([`Building configuration...\n!\n${formatFrrLines(lines).join('\n')}\n!\nend\n`]);
  const commandsOf = (from: Record<string, any>, to: Record<string, any>) => planRoutingChange(linesOf(to), runningAfter(linesOf(from))).commands.split('\n').filter((line) => line !== '');

  it('sets and unsets the pair’s next hops in the announce route-map alone, and a changed address replaces the line', () => {
    const entry = ['route-map VR6-ANNOUNCE permit 10'];
    expect(commandsOf(bgpInput(), pairBgpInput())).toEqual([...entry, ' set ipv6 next-hop global 2001:db8:100::100', ' set ipv6 next-hop local fe80::200:5eff:fe00:233', 'exit']);
    expect(commandsOf(pairBgpInput(), bgpInput())).toEqual([...entry, ' no set ipv6 next-hop global 2001:db8:100::100', ' no set ipv6 next-hop local fe80::200:5eff:fe00:233', 'exit']);
    const moved = pairBgpInput();
    moved.redundancy.publicAddress = '2001:db8:100::200/64';
    expect(commandsOf(pairBgpInput(), moved)).toEqual([...entry, ' set ipv6 next-hop global 2001:db8:100::200', 'exit']);
  });
});
