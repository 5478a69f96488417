import { describe, expect, it } from 'vitest';
import { formatFrrLines } from '../../src/model/frr-config.js';
import { parseRoutingRunning } from '../../src/observe/frr-running.js';
import { planRoutingChange } from '../../src/plan/frr-routing-plan.js';
import { renderBgpLines } from '../../src/render/frr-bgp.js';
import { DesiredState } from '../../src/schema/desired-state.js';
import { bgpInput } from '../support/states.js';

/** The routing lines of a state; `change` edits the input first. */
function linesOf(change: (input: Record<string, any>) => void = () => undefined) {
  const input = bgpInput();
  change(input);
  return renderBgpLines(DesiredState.parse(input));
}

/** What bgpd would print after taking the lines: their text, read back as the reader reads it. */
function runningAfter(lines: ReturnType<typeof linesOf>) {
  return parseRoutingRunning([`Building configuration...\n!\n${formatFrrLines(lines).join('\n')}\n!\nend\n`]);
}

const commandsOf = (desired: ReturnType<typeof linesOf>, running: ReturnType<typeof linesOf>) =>
  planRoutingChange(desired, running).commands.split('\n').filter((line) => line !== '');

const secondPeer = (input: Record<string, any>) =>
  input.routing.bgp.peers.push({ address: '2001:db8:fe::2', remoteAs: 65002, multihopTtl: 2, bfd: { receiveIntervalMs: 100, transmitIntervalMs: 100 } });

describe('the routing plan', () => {
  it('configures a new bgpd completely, policies before the peers that use them', () => {
    const commands = commandsOf(linesOf(), []);
    expect(commands.indexOf('bgp route-map delay-timer 1')).toBeLessThan(commands.indexOf('router bgp 65010'));
    const router = commands.indexOf('router bgp 65010');
    expect(commands.indexOf('ipv6 prefix-list VR6-ANNOUNCE seq 10 permit 2001:db8:200::/56')).toBeLessThan(router);
    expect(commands).toContain(' neighbor 2001:db8:100::1 remote-as 65000');
    expect(commands).toContain('  aggregate-address 2001:db8:200::/56 summary-only');
    expect(commands).toContain('  network 2001:db8:200:1::/64');
    expect(commands).toContain('  neighbor 2001:db8:100::1 prefix-list VR6-ACCEPT-DEFAULT in');
    expect(commands).toContain('  neighbor 2001:db8:100::1 route-map VR6-ANNOUNCE out');
  });

  it('sets the instance up before its first peer, so that no peer is made under IPv4 defaults', () => {
    const commands = commandsOf(linesOf(), []);
    expect(commands.indexOf(' no bgp default ipv4-unicast')).toBeLessThan(commands.indexOf(' neighbor 2001:db8:100::1 remote-as 65000'));
  });

  it('takes a peer out of an address family line by line: an address family has no `no` form', () => {
    const running = [...runningAfter(linesOf()), { context: ['router bgp 65010', 'address-family ipv4 unicast'], line: 'neighbor 2001:db8:100::1 activate' }];
    expect(commandsOf(linesOf(), running)).toEqual(['router bgp 65010', ' address-family ipv4 unicast', '  no neighbor 2001:db8:100::1 activate', ' exit-address-family', 'exit']);
  });

  it('has nothing to do once the daemon runs what it was told, its own form read back', () => {
    for (const lines of [linesOf(), linesOf(secondPeer), linesOf((i) => (i.routing.bgp.announce.guestPrefixes = true))]) {
      expect(planRoutingChange(lines, runningAfter(lines))).toEqual({ commands: '', refreshPeers: [], isNewInstance: false, clears: [], lingering: [] });
    }
  });

  it('removes a peer with one command, leaving the other and every announcement alone', () => {
    const commands = commandsOf(linesOf(), runningAfter(linesOf(secondPeer)));
    // With the last peer further away, next-hop tracking through the default route goes too.
    expect(commands).toEqual(['router bgp 65010', ' no neighbor 2001:db8:fe::2', 'exit', 'bfd', ' no profile vr6-100-100-3', 'exit', 'no ipv6 nht resolve-via-default']);
  });

  it('adds a peer without touching the first one', () => {
    const commands = commandsOf(linesOf(secondPeer), runningAfter(linesOf()));
    expect(commands.filter((line) => line.includes('2001:db8:100::1'))).toEqual([]);
    expect(commands.findIndex((l) => l.includes('2001:db8:fe::2 remote-as'))).toBeLessThan(commands.findIndex((l) => l.includes('2001:db8:fe::2 ebgp-multihop')));
  });

  it('changes an import policy in place and asks that peer for a route refresh', () => {
    const change = planRoutingChange(linesOf((i) => (i.routing.bgp.peers[0].accept = 'nothing')), runningAfter(linesOf()));
    expect(change.commands).toContain('  neighbor 2001:db8:100::1 prefix-list VR6-ACCEPT-NOTHING in');
    expect(change.commands).not.toContain('no neighbor');
    expect(change.refreshPeers).toEqual(['2001:db8:100::1']);
  });

  it('withdraws an aggregate by its own line and list entry, and leaves the other entries where they are', () => {
    const two = (i: Record<string, any>) => {
      i.guestNetworks.push({ id: 'net-2', interface: 'eth3', prefix: '2001:db8:300:1::/64' });
      i.routing.bgp.announce.aggregates.push('2001:db8:300::/48');
    };
    const oneLess = (i: Record<string, any>) => {
      two(i);
      i.routing.bgp.announce.aggregates = ['2001:db8:300::/48'];
      i.guestNetworks.splice(0, 1);
    };
    const commands = commandsOf(linesOf(oneLess), runningAfter(linesOf(two)));
    expect(commands).toContain('  no aggregate-address 2001:db8:200::/56 summary-only');
    expect(commands).toContain('  no network 2001:db8:200:1::/64');
    expect(commands).toContain('no ipv6 prefix-list VR6-ANNOUNCE seq 10 permit 2001:db8:200::/56');
    // The remaining /48 keeps seq 20: FRR ignores a second seq for a prefix it has, so moving it would deny it until a later pass.
    expect(commands.filter((line) => line.includes('2001:db8:300::/48'))).toEqual([]);
  });

  it('puts a new list entry at a free seq, before the old one goes', () => {
    const running = runningAfter(linesOf((i) => (i.routing.bgp.announce.aggregates = ['2001:db8:200::/48'])));
    const commands = commandsOf(linesOf(), running);
    const added = commands.indexOf('ipv6 prefix-list VR6-ANNOUNCE seq 11 permit 2001:db8:200::/56');
    expect(added).toBeGreaterThanOrEqual(0);
    expect(added).toBeLessThan(commands.indexOf('no ipv6 prefix-list VR6-ANNOUNCE seq 10 permit 2001:db8:200::/48'));
  });

  it('replaces multihop by TTL security in the order bgpd accepts, removal first', () => {
    const multihop = (i: Record<string, any>) => Object.assign(i.routing.bgp.peers[0], { multihopTtl: 2 });
    const gtsm = (i: Record<string, any>) => Object.assign(i.routing.bgp.peers[0], { ttlSecurityHops: 1 });
    const commands = commandsOf(linesOf(gtsm), runningAfter(linesOf(multihop)));
    expect(commands).toEqual(['router bgp 65010', ' no neighbor 2001:db8:100::1 ebgp-multihop 2', ' neighbor 2001:db8:100::1 ttl-security hops 1', 'exit', 'no ipv6 nht resolve-via-default']);
  });

  it('turns BFD off for a peer with one line, and drops the profile no one uses', () => {
    const withoutBfd = (i: Record<string, any>) => {
      secondPeer(i);
      delete i.routing.bgp.peers[1].bfd;
    };
    const commands = commandsOf(linesOf(withoutBfd), runningAfter(linesOf(secondPeer)));
    expect(commands).toEqual(['router bgp 65010', ' no neighbor 2001:db8:fe::2 bfd', 'exit', 'bfd', ' no profile vr6-100-100-3', 'exit']);
  });

  it('makes the instance anew only for a change of the VR’s own AS', () => {
    const change = planRoutingChange(linesOf((i) => (i.routing.bgp.localAs = 65011)), runningAfter(linesOf()));
    expect(change.isNewInstance).toBe(true);
    expect(change.commands.split('\n')[0]).toBe('no router bgp 65010');
    expect(change.commands).toContain(' neighbor 2001:db8:100::1 remote-as 65000');
  });

  it('leaves what is not the agent’s alone: other route-maps, prefix-lists and BFD profiles', () => {
    const running = [...runningAfter(linesOf()), ...parseRoutingRunning(['route-map OPS permit 10\n match ipv6 address prefix-list OPS\nexit\nipv6 prefix-list OPS seq 5 permit ::/0\nbfd\n profile ops\n  receive-interval 50\n exit\nexit\n'])];
    expect(planRoutingChange(linesOf(), running).commands).toBe('');
  });
});
