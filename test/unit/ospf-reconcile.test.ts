import { describe, expect, it } from 'vitest';
import { DesiredState } from '../../src/schema/desired-state.js';
import { reconcileAfterRestart, startOnMemoryHost as start } from '../support/memory-agent.js';
import type { MemoryHost } from '../support/memory-host.js';
import { ospfInput } from '../support/states.js';

/**
 * ospf6d and zebra's install filter under the reconcile loop, on the
 * in-memory host's own model of them (test/support/memory-ospf6d.ts).
 * test/lab/ospf.test.ts proves the same against real daemons and a real
 * upstream router.
 */

function ospfState(edit: (input: Record<string, any>) => void = () => undefined): DesiredState {
  const input = ospfInput();
  edit(input);
  return DesiredState.parse(input);
}

const ospf6dConfig = (host: MemoryHost) => host.ospf6.printRunningConfig();
const publicInterface = (host: MemoryHost) => ospf6dConfig(host).split('interface eth1\n')[1]?.split('exit')[0] ?? '';

describe('OSPFv3 on the in-memory host', () => {
  it('starts zebra and ospf6d, puts the public link alone in the area, summarises the /64s, and has nothing left to do', async () => {
    const state = ospfState();
    const { host, reconciler, first } = await start(state);
    expect(first).toMatchObject({ ok: true, isConverged: true, errors: [] });
    expect(host.daemonPids('ospf6d')).toHaveLength(1);
    expect(host.daemonPids('bgpd')).toEqual([]);
    const running = ospf6dConfig(host);
    expect(running).toContain('router ospf6\n ospf6 router-id 192.0.2.10\n redistribute connected route-map VR6-OSPF-ANNOUNCE\n summary-address 2001:db8:200::/56\nexit');
    expect(publicInterface(host)).toBe(' ipv6 ospf6 cost 10\n ipv6 ospf6 area 0.0.0.0\n');
    expect(running).not.toContain('interface eth2');
    // zebra lets in from ospf6d only what its own copy of the accept list permits: the default and the summary's discard.
    const zebra = host.zebraRouting.printLines().join('\n');
    expect(zebra).toContain('ipv6 protocol ospf6 route-map VR6-OSPF-ACCEPT');
    expect(zebra).toContain('ipv6 prefix-list VR6-OSPF-ACCEPT seq 10 permit 2001:db8:200::/56');
    expect(zebra).toContain('ipv6 prefix-list VR6-OSPF-ACCEPT seq 20 permit ::/0');
    expect((await reconciler.reconcile(state)).applied).toEqual([]);
  });

  it('leaves a converged ospf6d alone when the agent starts again with no memory', async () => {
    const state = ospfState();
    const { host } = await start(state);
    const pids = [...host.daemonPids('zebra'), ...host.daemonPids('ospf6d')];
    const mark = host.writes.length;
    const { result } = await reconcileAfterRestart(host, state);
    expect(result.components.frr).toEqual({ status: 'ok', steps: 0 });
    expect([...host.daemonPids('zebra'), ...host.daemonPids('ospf6d')]).toEqual(pids);
    expect(host.writes.slice(mark).filter((write) => /ospf6d|vtysh -f/.test(write))).toEqual([]);
  });

  it('changes the cost in place and moves the link to another area, with ospf6d never restarted', async () => {
    const { host, reconciler } = await start(ospfState());
    const [ospf6d] = host.daemonPids('ospf6d');
    const moved = ospfState((input) => Object.assign(input.routing.ospf, { cost: 25, area: '0.0.0.1' }));
    expect(await reconciler.reconcile(moved)).toMatchObject({ ok: true, isConverged: true });
    // ospf6d keeps an interface in its first area when told of a second: the area had to be left first.
    expect(publicInterface(host)).toBe(' ipv6 ospf6 cost 25\n ipv6 ospf6 area 0.0.0.1\n');
    expect(host.daemonPids('ospf6d')).toEqual([ospf6d]);
    expect((await reconciler.reconcile(moved)).applied).toEqual([]);
  });

  it('returns timers to ospf6d’s defaults, which it does not print', async () => {
    const fast = ospfState((input) => Object.assign(input.routing.ospf, { helloIntervalSeconds: 1, deadIntervalSeconds: 4 }));
    const { host, reconciler } = await start(fast);
    expect(publicInterface(host)).toContain(' ipv6 ospf6 dead-interval 4\n ipv6 ospf6 hello-interval 1\n');
    expect(await reconciler.reconcile(ospfState())).toMatchObject({ ok: true, isConverged: true });
    expect(publicInterface(host)).toBe(' ipv6 ospf6 cost 10\n ipv6 ospf6 area 0.0.0.0\n');
  });

  it('replaces the aggregate: one summary, and zebra lets in the new discard route only', async () => {
    const { host, reconciler } = await start(ospfState());
    const wider = ospfState((input) => (input.routing.ospf.announce.aggregates = ['2001:db8:200::/48']));
    expect(await reconciler.reconcile(wider)).toMatchObject({ ok: true, isConverged: true });
    expect(ospf6dConfig(host).match(/summary-address \S+/g)).toEqual(['summary-address 2001:db8:200::/48']);
    const accepted = host.zebraRouting.printLines().filter((line) => line.startsWith('ipv6 prefix-list VR6-OSPF-ACCEPT ') && line.includes(' permit '));
    expect(accepted.map((line) => line.split(' ').pop()).sort()).toEqual(['2001:db8:200::/48', '::/0']);
  });

  it('gives a zebra started again its install filter, and puts back a summary someone removed at vtysh', async () => {
    const state = ospfState();
    const { host, reconciler } = await start(state);
    host.processes.delete(host.daemonPids('zebra')[0]!);
    expect(host.ospf6.runCommands('router ospf6\n no summary-address 2001:db8:200::/56\nexit\n')).toEqual([]);
    const result = await reconciler.reconcile(state);
    expect(result).toMatchObject({ ok: true, isConverged: true });
    expect(result.repaired).toContain('zebra was not running');
    expect(host.zebraRouting.printLines()).toContain('ipv6 protocol ospf6 route-map VR6-OSPF-ACCEPT');
    expect(ospf6dConfig(host)).toContain(' summary-address 2001:db8:200::/56\n');
  });

  it('stops ospf6d when routing goes back to static', async () => {
    const { host, reconciler } = await start(ospfState());
    const [ospf6d] = host.daemonPids('ospf6d');
    const result = await reconciler.reconcile(ospfState((input) => (input.routing = { protocol: 'static' })));
    expect(result).toMatchObject({ ok: true, isConverged: true });
    expect(host.writes).toContain(`kill -SIGTERM ${ospf6d}`);
    expect(host.daemonPids('ospf6d')).toEqual([]);
  });
});
