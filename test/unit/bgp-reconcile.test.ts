import { describe, expect, it } from 'vitest';
import { DesiredState } from '../../src/schema/desired-state.js';
import { reconcileAfterRestart, startOnMemoryHost as start } from '../support/memory-agent.js';
import type { MemoryHost } from '../support/memory-host.js';
import { bgpInput } from '../support/states.js';

/**
 * bgpd and bfdd under the reconcile loop, on the in-memory host's own model
 * of them. test/lab/bgp.test.ts proves the same against real daemons and a
 * real upstream peer.
 */

function bgpState(edit: (input: Record<string, any>) => void = () => undefined): DesiredState {
  const input = bgpInput();
  edit(input);
  return DesiredState.parse(input);
}

const withBfdPeer = (input: Record<string, any>) =>
  input.routing.bgp.peers.push({ address: '2001:db8:fe::2', remoteAs: 65002, multihopTtl: 2, bfd: { receiveIntervalMs: 100, transmitIntervalMs: 100 } });

const bgpdConfig = (host: MemoryHost) => host.routing.printRunningConfig('bgpd');

describe('BGP on the in-memory host', () => {
  it('starts zebra and bgpd empty, configures them, and has nothing left to do', async () => {
    const state = bgpState();
    const { host, reconciler, first } = await start(state);
    expect(first).toMatchObject({ ok: true, isConverged: true, errors: [] });
    expect(host.daemonPids('zebra')).toHaveLength(1);
    expect(host.daemonPids('bgpd')).toHaveLength(1);
    expect(host.daemonPids('bfdd')).toEqual([]);
    expect(bgpdConfig(host)).toContain(' neighbor 2001:db8:100::1 remote-as 65000');
    expect(bgpdConfig(host)).toContain('  aggregate-address 2001:db8:200::/56 summary-only');
    // The peer was made after `no bgp default ipv4-unicast`: it is in no IPv4 family.
    expect(bgpdConfig(host)).not.toContain('address-family ipv4 unicast');
    expect((await reconciler.reconcile(state)).applied).toEqual([]);
  });

  it('with radvd sending the RAs, runs zebra for bgpd only: zebra advertises nowhere', async () => {
    const { host } = await start(bgpState());
    expect(host.radvdPids()).toHaveLength(1);
    expect([...host.zebra.interfaces.values()].filter((settings) => settings.isAdvertising)).toEqual([]);
  });

  it('runs bfdd for a peer with BFD, and stops it with the last such peer', async () => {
    const { host, reconciler } = await start(bgpState(withBfdPeer));
    expect(host.daemonPids('bfdd')).toHaveLength(1);
    expect(host.routing.printRunningConfig('bfdd')).toContain(' profile vr6-100-100-3');
    expect((await reconciler.reconcile(bgpState())).ok).toBe(true);
    expect(host.daemonPids('bfdd')).toEqual([]);
    expect(bgpdConfig(host)).not.toContain('2001:db8:fe::2');
  });

  it('leaves a converged bgpd alone when the agent starts again with no memory', async () => {
    const state = bgpState(withBfdPeer);
    const { host } = await start(state);
    const pids = [...host.daemonPids('bgpd'), ...host.daemonPids('bfdd')];
    const mark = host.writes.length;
    const { result } = await reconcileAfterRestart(host, state);
    expect(result.components.frr).toEqual({ status: 'ok', steps: 0 });
    expect([...host.daemonPids('bgpd'), ...host.daemonPids('bfdd')]).toEqual(pids);
    expect(host.writes.slice(mark).filter((write) => /bgpd|bfdd|vtysh -f/.test(write))).toEqual([]);
  });

  it('starts a bgpd that died and configures it again, saying so', async () => {
    const state = bgpState();
    const { host, reconciler } = await start(state);
    host.processes.delete(host.daemonPids('bgpd')[0]!);
    const result = await reconciler.reconcile(state);
    expect(result.repaired).toEqual(['bgpd was not running']);
    expect(bgpdConfig(host)).toContain(' neighbor 2001:db8:100::1 remote-as 65000');
  });

  it('puts back a peer someone removed at vtysh, saying so', async () => {
    const state = bgpState();
    const { host, reconciler } = await start(state);
    expect(host.routing.runCommands('router bgp 65010\n no neighbor 2001:db8:100::1\nexit\n')).toEqual([]);
    const result = await reconciler.reconcile(state);
    expect(result.repaired).toEqual(["bgpd's config differed from frr.conf"]);
    expect(bgpdConfig(host)).toContain('  neighbor 2001:db8:100::1 prefix-list VR6-ACCEPT-DEFAULT in');
  });

  it('stops bgpd, which tells its peers, when routing goes back to static', async () => {
    const { host, reconciler } = await start(bgpState());
    const [bgpd] = host.daemonPids('bgpd');
    const result = await reconciler.reconcile(bgpState((input) => (input.routing = { protocol: 'static' })));
    expect(result.ok).toBe(true);
    expect(host.writes).toContain(`kill -SIGTERM ${bgpd}`);
    expect(host.daemonPids('bgpd')).toEqual([]);
    expect(host.daemonPids('zebra')).toEqual([]);
  });
});
