import { describe, expect, it } from 'vitest';
import { formatFrrLines, routingDaemonOf } from '../../src/model/frr-config.js';
import { parseRoutingRunning } from '../../src/observe/frr-running.js';
import { OSPF_RESTART, planRoutingChange } from '../../src/plan/frr-routing-plan.js';
import { renderFrrConf } from '../../src/render/frr-conf.js';
import { renderOspfLines } from '../../src/render/frr-ospf.js';
import { DesiredState } from '../../src/schema/desired-state.js';
import { ospfInput } from '../support/states.js';

type Input = Record<string, any>;

function linesOf(change: (input: Input) => void = () => undefined) {
  const input = ospfInput();
  change(input);
  return renderOspfLines(DesiredState.parse(input));
}

/** What ospf6d and zebra would print after taking the lines: each reads its own, as the reader does. */
function runningAfter(lines: ReturnType<typeof linesOf>) {
  const text = `Building configuration...\n!\n${formatFrrLines(lines).join('\n')}\n!\nend\n`;
  return parseRoutingRunning([text], text);
}

const commandsOf = (desired: ReturnType<typeof linesOf>, running: ReturnType<typeof linesOf>) =>
  planRoutingChange(desired, running).commands.split('\n').filter((line) => line !== '');

describe('OSPF in frr.conf', () => {
  it('puts the public interface alone in the area, redistributes exactly the guest /64s and summarises them by the aggregate', () => {
    const rendered = renderFrrConf(DesiredState.parse(ospfInput()))!;
    expect(rendered.daemons).toEqual(['zebra', 'ospf6d']);
    expect(rendered.text).toContain('interface eth1\n ipv6 ospf6 cost 10\n ipv6 ospf6 area 0.0.0.0\nexit');
    expect(rendered.text).toContain('router ospf6\n ospf6 router-id 192.0.2.10\n redistribute connected route-map VR6-OSPF-ANNOUNCE\n summary-address 2001:db8:200::/56\nexit');
    expect(rendered.text).toContain('ipv6 prefix-list VR6-OSPF-ANNOUNCE seq 10 permit 2001:db8:200:1::/64\nipv6 prefix-list VR6-OSPF-ANNOUNCE seq 100000 deny any');
    // zebra lets in the aggregate's discard route and the default route, nothing else.
    expect(rendered.text).toContain('ipv6 prefix-list VR6-OSPF-ACCEPT seq 10 permit 2001:db8:200::/56\nipv6 prefix-list VR6-OSPF-ACCEPT seq 20 permit ::/0');
    expect(rendered.text).toContain('ipv6 protocol ospf6 route-map VR6-OSPF-ACCEPT');
    expect(rendered.text).not.toMatch(/interface eth2\n ipv6 ospf6/);
  });

  it('states timers only where they differ from ospf6d’s, and accepts nothing when told', () => {
    const text = renderFrrConf(DesiredState.parse(Object.assign(ospfInput(), {})))!.text;
    expect(text).not.toContain('hello-interval');
    const lines = linesOf((i) => Object.assign(i.routing.ospf, { helloIntervalSeconds: 1, deadIntervalSeconds: 4, accept: 'nothing', area: 7 }));
    const printed = formatFrrLines(lines).join('\n');
    expect(printed).toContain(' ipv6 ospf6 cost 10\n ipv6 ospf6 dead-interval 4\n ipv6 ospf6 hello-interval 1\n ipv6 ospf6 area 0.0.0.7');
    expect(printed).not.toContain('permit ::/0');
  });

  it('announces each /64 itself, and no summary, with guestPrefixes', () => {
    const printed = formatFrrLines(linesOf((i) => Object.assign(i.routing.ospf.announce, { aggregates: [], guestPrefixes: true }))).join('\n');
    expect(printed).not.toContain('summary-address');
    expect(printed).toContain('ipv6 prefix-list VR6-OSPF-ANNOUNCE seq 10 permit 2001:db8:200:1::/64');
  });
});

describe('the OSPF plan', () => {
  it('configures a new ospf6d with the router ID before the interface joins the area', () => {
    const commands = commandsOf(linesOf(), []);
    const routerId = commands.indexOf(' ospf6 router-id 192.0.2.10');
    expect(routerId).toBeGreaterThan(commands.indexOf('route-map VR6-OSPF-ANNOUNCE permit 10'));
    expect(routerId).toBeLessThan(commands.indexOf(' ipv6 ospf6 area 0.0.0.0'));
    // The timers before the area: joining starts the wait timer at the dead interval of that moment.
    expect(commands.indexOf(' ipv6 ospf6 cost 10')).toBeLessThan(commands.indexOf(' ipv6 ospf6 area 0.0.0.0'));
    expect(planRoutingChange(linesOf(), []).clears).toEqual([]);
  });

  it('has nothing to do once the daemons run what they were told', () => {
    for (const lines of [linesOf(), linesOf((i) => (i.routing.ospf.cost = 99)), linesOf((i) => Object.assign(i.routing.ospf, { helloIntervalSeconds: 2, deadIntervalSeconds: 8 }))]) {
      expect(planRoutingChange(lines, runningAfter(lines))).toEqual({ commands: '', refreshPeers: [], isNewInstance: false, clears: [], lingering: [] });
    }
  });

  it('changes the cost by overwriting it: one command, no restart', () => {
    expect(commandsOf(linesOf((i) => (i.routing.ospf.cost = 25)), runningAfter(linesOf()))).toEqual(['interface eth1', ' ipv6 ospf6 cost 25', 'exit']);
  });

  it('returns a timer to ospf6d’s default by its `no` form', () => {
    const fast = linesOf((i) => Object.assign(i.routing.ospf, { helloIntervalSeconds: 1, deadIntervalSeconds: 4 }));
    expect(commandsOf(linesOf(), runningAfter(fast))).toEqual(['interface eth1', ' no ipv6 ospf6 dead-interval 4', ' no ipv6 ospf6 hello-interval 1', 'exit']);
  });

  it('moves the interface to another area by leaving the old one first: ospf6d refuses the overwrite', () => {
    expect(commandsOf(linesOf((i) => (i.routing.ospf.area = '0.0.0.1')), runningAfter(linesOf()))).toEqual([
      'interface eth1',
      ' no ipv6 ospf6 area 0.0.0.0',
      ' ipv6 ospf6 area 0.0.0.1',
      'exit',
    ]);
  });

  it('replaces an aggregate: the new summary, its discard let in at a free seq, the old one gone', () => {
    const commands = commandsOf(linesOf((i) => (i.routing.ospf.announce.aggregates = ['2001:db8:200::/48'])), runningAfter(linesOf()));
    expect(commands).toContain(' summary-address 2001:db8:200::/48');
    expect(commands).toContain(' no summary-address 2001:db8:200::/56');
    expect(commands).toContain('ipv6 prefix-list VR6-OSPF-ACCEPT seq 11 permit 2001:db8:200::/48');
    expect(commands.indexOf('ipv6 prefix-list VR6-OSPF-ACCEPT seq 11 permit 2001:db8:200::/48')).toBeLessThan(commands.indexOf(' summary-address 2001:db8:200::/48'));
    expect(commands).toContain('no ipv6 prefix-list VR6-OSPF-ACCEPT seq 10 permit 2001:db8:200::/56');
    expect(commands.some((c) => /router-id|ospf6 area|protocol/.test(c))).toBe(false);
    // ospf6d prints the old summary until its aggregation timer: the step waits for it to go.
    expect(planRoutingChange(linesOf((i) => (i.routing.ospf.announce.aggregates = ['2001:db8:200::/48'])), runningAfter(linesOf())).lingering).toEqual([
      { daemon: 'ospf6d', line: 'summary-address 2001:db8:200::/56' },
    ]);
  });

  it('asks ospf6d to restart its process for a new router ID, the one change that does', () => {
    const change = planRoutingChange(linesOf((i) => (i.routing.ospf.routerId = '192.0.2.11')), runningAfter(linesOf()));
    expect(change.commands).toBe('router ospf6\n ospf6 router-id 192.0.2.11\nexit\n');
    expect(change.clears).toEqual([OSPF_RESTART]);
  });

  it('gives a zebra started again its filter and the policy it uses, although ospf6d still holds that policy', () => {
    const ospf6d = linesOf().filter((entry) => routingDaemonOf(entry) !== 'zebra' || entry.context.length > 0);
    const text = `Building configuration...\n!\n${formatFrrLines(ospf6d).join('\n')}\n!\nend\n`;
    const commands = commandsOf(linesOf(), parseRoutingRunning([text], 'Building configuration...\n!\nend\n'));
    expect(commands).toContain('ipv6 protocol ospf6 route-map VR6-OSPF-ACCEPT');
    expect(commands).toContain('ipv6 prefix-list VR6-OSPF-ACCEPT seq 10 permit 2001:db8:200::/56');
    expect(commands).not.toContain('ipv6 prefix-list VR6-OSPF-ANNOUNCE seq 10 permit 2001:db8:200:1::/64');
  });

  it('places each line in its daemon, so a daemon on its way out is told nothing', () => {
    const daemons = new Set(linesOf().map(routingDaemonOf));
    expect(daemons).toEqual(new Set([null, 'zebra', 'ospf6d']));
    expect(routingDaemonOf({ context: ['router bgp 65010'], line: 'bgp router-id 192.0.2.1' })).toBe('bgpd');
  });
});
