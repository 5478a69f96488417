import { readFileSync } from 'node:fs';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { startOnMemoryHost } from '../support/memory-agent.js';
import { MemoryHost } from '../support/memory-host.js';
import { parseFrrRunningConfig } from '../../src/observe/frr-running.js';
import { fileLayoutOf } from '../../src/model/file-layout.js';
import { planFrrChange } from '../../src/plan/frr-plan.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import { renderFrrConf } from '../../src/render/frr-conf.js';
import { DesiredState } from '../../src/schema/desired-state.js';
import { formatPrefix, parseIpv6Prefix } from '../../src/schema/ipv6.js';
import { agentConfigIn } from '../support/agent-config.js';
import { vpcInput } from '../support/states.js';

/**
 * The FRR backend's pure parts, and its reconcile loop on the in-memory host.
 * test/lab/ra-backends.test.ts proves the same against a real zebra.
 */

const config = agentConfigIn('/vr');
const silent = pino({ level: 'silent' });

function frrState(edit: (input: Record<string, any>) => void = () => undefined): DesiredState {
  const input = vpcInput();
  input.raBackend = 'frr';
  input.guestNetworks[0].ra = { minIntervalSeconds: 3, maxIntervalSeconds: 10, routerLifetimeSeconds: 30, dnsServers: ['2001:db8:100::53'], searchDomains: ['cloud.example'], mtu: 1480 };
  edit(input);
  return DesiredState.parse(input);
}

const nd = (entries: Record<string, string[]>) => new Map(Object.entries(entries));

describe("zebra's running-config", () => {
  it('yields the RA lines of each interface in the form the agent renders', () => {
    // Captured from zebra 8.4.4 after `vtysh -f` changes: defaults are not printed.
    const running = parseFrrRunningConfig(readFileSync('test/fixtures/frr-show-running-config.txt', 'utf8'));
    expect(running).toEqual(
      nd({
        e1: [
          'ipv6 nd dnssl a.example 40',
          'ipv6 nd mtu 1400',
          'ipv6 nd prefix 2001:db8:1::/64 86400 9720',
          'ipv6 nd prefix 2001:db8:5::/64 2592000 604800',
          'ipv6 nd prefix 2001:db8:6::/64 infinite infinite',
          'ipv6 nd ra-lifetime 0',
          'ipv6 nd rdnss 2001:db8:1::54 40',
          'no ipv6 nd suppress-ra',
        ],
        e9: ['ipv6 nd ra-interval 20'],
      }),
    );
  });

  it('ignores what other parts of FRR configure on an interface', () => {
    const text = 'interface eth2\n description web\n ip address 192.0.2.1/24\n ipv6 nd ra-interval msec 5000\nexit\n!\nrouter bgp 65001\n neighbor 2001:db8::1 remote-as 65000\nexit\n';
    expect(parseFrrRunningConfig(text)).toEqual(nd({ eth2: ['ipv6 nd ra-interval 5'] }));
  });
});

describe('the commands that bring zebra to the rendered settings', () => {
  const rendered = renderFrrConf(frrState())!.interfaces;

  it('are none when zebra runs the rendered settings, defaults left unprinted', () => {
    const running = new Map([...rendered].map(([ifname, lines]) => [ifname, lines.filter((l) => l !== 'ipv6 nd ra-interval 600')]));
    expect(running.get('eth3')).not.toEqual(rendered.get('eth3'));
    expect(planFrrChange(rendered, running)).toEqual({ commands: '', touchedInterfaces: [], changedInterfaces: [] });
  });

  it('renumber in place: the new prefix and the old one at lifetimes 0, never a removal in between', () => {
    const deprecated = [{ interface: 'eth2', prefix: parseIpv6Prefix('2001:db8:200:1::/64'), gateway: '2001:db8:200:1::1', untilSeconds: 9e9 }];
    const next = renderFrrConf(frrState((input) => (input.guestNetworks[0].prefix = '2001:db8:200:7::/64')), deprecated)!.interfaces;
    const change = planFrrChange(next, rendered);
    expect(change.commands).toBe('interface eth2\n ipv6 nd prefix 2001:db8:200:7::/64 86400 9720\n ipv6 nd prefix 2001:db8:200:1::/64 0 0\nexit\n');
    expect(change.changedInterfaces).toEqual(['eth2']);
  });

  it('clear the router lifetime before a new interval, which zebra refuses above a configured lifetime', () => {
    // A link that had left (router lifetime 0) gets a network again.
    const left = nd({ eth2: ['ipv6 nd ra-lifetime 0', 'ipv6 nd prefix 2001:db8:200:1::/64 0 0', 'no ipv6 nd suppress-ra'] });
    const lines = planFrrChange(rendered, left).commands.split('\n');
    const at = (command: string) => lines.indexOf(` ${command}`);
    expect(at('no ipv6 nd ra-lifetime')).toBeGreaterThan(0);
    expect(at('no ipv6 nd ra-lifetime')).toBeLessThan(at('ipv6 nd ra-interval 10'));
    expect(at('ipv6 nd ra-interval 10')).toBeLessThan(at('ipv6 nd ra-lifetime 30'));
  });

  it('stop a link that no longer advertises first, then clear its settings', () => {
    const change = planFrrChange(nd({}), nd({ eth4: ['ipv6 nd rdnss 2001:db8::53 20', 'ipv6 nd prefix 2001:db8:4::/64 0 0', 'no ipv6 nd suppress-ra'] }));
    expect(change.commands).toBe('interface eth4\n ipv6 nd suppress-ra\n no ipv6 nd rdnss 2001:db8::53\n no ipv6 nd prefix 2001:db8:4::/64\nexit\n');
    expect(change.changedInterfaces).toEqual([]);
  });

  it('are none for values zebra prints in its own way: a trailing dot dropped, 0xffffffff as infinite', () => {
    // As zebra 8.4.4 printed `dnssl Example.COM. 20`, `rdnss … 4294967295` and such a prefix.
    const state = frrState((input) => {
      input.guestNetworks[0].ra = { ...input.guestNetworks[0].ra, searchDomains: ['Example.COM.'], validLifetimeSeconds: 4294967295, preferredLifetimeSeconds: 4294967295, dnsLifetimeSeconds: 20 };
    });
    const lines = renderFrrConf(state)!.interfaces.get('eth2')!;
    expect(lines).toContain('ipv6 nd dnssl Example.COM 20');
    expect(lines).toContain('ipv6 nd prefix 2001:db8:200:1::/64 infinite infinite');
    const printed = parseFrrRunningConfig(`interface eth2\n${[...lines].sort().map((l) => ` ${l}`).join('\n')}\nexit\n`);
    expect(planFrrChange(new Map([['eth2', lines]]), printed).commands).toBe('');
  });

  it('remove what someone added by hand', () => {
    const running = new Map(rendered);
    running.set('eth2', [...rendered.get('eth2')!, 'ipv6 nd managed-config-flag', 'ipv6 nd rdnss 2001:db8::99 20']);
    expect(planFrrChange(rendered, running).commands).toBe('interface eth2\n no ipv6 nd managed-config-flag\n no ipv6 nd rdnss 2001:db8::99\nexit\n');
  });
});

describe('the FRR backend on the in-memory host', () => {
  const start = startOnMemoryHost;

  it('starts zebra from the rendered frr.conf, and a second run changes nothing', async () => {
    const state = frrState();
    const { host, reconciler, first } = await start(state);
    expect(first.ok).toBe(true);
    expect(host.zebraPids()).toHaveLength(1);
    expect(host.radvdPids()).toEqual([]);
    expect(host.files.get(fileLayoutOf(config).frr.config)).toBe(renderFrrConf(state)!.text);
    const again = await reconciler.reconcile(state);
    expect(again.applied).toEqual([]);
  });

  it('changes nothing when vtysh -C rejects the config, and leaves radvd sending', async () => {
    const radvd = DesiredState.parse(vpcInput());
    const { host, reconciler } = await start(radvd);
    const writes = host.writes.length;
    host.refuseOn = /^vtysh --config_dir/;
    const result = await reconciler.reconcile(frrState());
    expect(result.ok).toBe(false);
    expect(result.components.frr.status).toBe('failed');
    expect(result.components.radvd.status).toBe('skipped');
    expect(host.radvdPids()).toHaveLength(1);
    expect(host.zebraPids()).toEqual([]);
    // Only the candidate file for the check was written, and removed again.
    expect(host.writes.slice(writes).filter((w) => !w.includes('frr-check'))).toEqual([]);
  });

  it('hands RAs from radvd to zebra and back, stopping the old sender silently before the new one starts', async () => {
    const radvd = DesiredState.parse(vpcInput());
    const { host, reconciler } = await start(radvd);
    const [radvdPid] = host.radvdPids();
    const mark = host.writes.length;
    expect((await reconciler.reconcile(frrState())).ok).toBe(true);
    const toFrr = host.writes.slice(mark);
    expect(host.radvdPids()).toEqual([]);
    const [zebraPid] = host.zebraPids();
    expect(toFrr.indexOf(`kill -SIGKILL ${radvdPid}`)).toBeLessThan(toFrr.indexOf(`start zebra ${zebraPid}`));
    expect(host.files.has(config.paths.radvdConfig)).toBe(false);

    const back = host.writes.length;
    expect((await reconciler.reconcile(radvd)).ok).toBe(true);
    const toRadvd = host.writes.slice(back);
    expect(host.zebraPids()).toEqual([]);
    expect(toRadvd.findIndex((w) => w === `kill -SIGKILL ${zebraPid}`)).toBeLessThan(toRadvd.findIndex((w) => w.startsWith('start radvd')));
    expect(host.files.has(fileLayoutOf(config).frr.config)).toBe(false);
  });

  it('restarts a zebra that died, and puts back RA settings someone changed, saying so', async () => {
    const state = frrState();
    const { host, reconciler } = await start(state);
    host.processes.delete(host.zebraPids()[0]!);
    expect((await reconciler.reconcile(state)).repaired).toEqual(['zebra was not running']);
    expect(host.zebraPids()).toHaveLength(1);
    // Someone at vtysh.
    expect(host.zebra.runCommands('interface eth2\n ipv6 nd managed-config-flag\nexit\n')).toEqual([]);
    const repaired = await reconciler.reconcile(state);
    expect(repaired.repaired).toEqual(["zebra's RA settings differed from frr.conf on eth2"]);
    expect(host.zebra.interfaces.get('eth2')!.flags).toEqual(new Set());
  });

  it('replaces a changed DNS server and search domain in zebra: the old ones are no longer advertised', async () => {
    const { host, reconciler } = await start(frrState());
    const changed = frrState((input) => Object.assign(input.guestNetworks[0].ra, { dnsServers: ['2001:db8:100::54'], searchDomains: ['other.example'] }));
    expect((await reconciler.reconcile(changed)).ok).toBe(true);
    const eth2 = host.zebra.interfaces.get('eth2')!;
    expect([...eth2.rdnss.keys()]).toEqual(['2001:db8:100::54']);
    expect([...eth2.dnssl.keys()]).toEqual(['other.example']);
  });
});

/** What zebra must hold on each network's link, read off the desired state, not off the agent's renderer. */
function zebraSettingsOf(state: DesiredState) {
  return new Map(
    state.guestNetworks.map(({ interface: ifname, prefix, ra }) => {
      const settings = {
        isAdvertising: true,
        intervalMs: ra.maxIntervalSeconds * 1000,
        routerLifetimeSeconds: ra.routerLifetimeSeconds,
        mtu: ra.mtu ?? null,
        prefixes: new Map([[formatPrefix(prefix), { valid: ra.validLifetimeSeconds, preferred: ra.preferredLifetimeSeconds }]]),
        rdnss: new Map(ra.dnsServers.map((server) => [server, ra.rdnssLifetimeSeconds])),
        dnssl: new Map(ra.searchDomains.map((domain) => [domain.replace(/\.$/, ''), ra.dnsslLifetimeSeconds])),
        flags: new Set(),
      };
      return [ifname, settings] as const;
    }),
  );
}

describe('zebra on the in-memory host, from every RA setting of a link to every other', () => {
  // Each differs from the others in every setting the agent gives zebra, the timing in both directions.
  const settings: Record<string, Record<string, unknown>> = {
    short: { minIntervalSeconds: 3, maxIntervalSeconds: 10, routerLifetimeSeconds: 30, dnsServers: ['2001:db8:100::53'], searchDomains: ['cloud.example'], mtu: 1480 },
    long: { maxIntervalSeconds: 60, minIntervalSeconds: 20, routerLifetimeSeconds: 1800, validLifetimeSeconds: 3600, preferredLifetimeSeconds: 1800, dnsServers: ['2001:db8:100::53', '2001:db8:100::54'], searchDomains: ['cloud.example', 'other.example.'] },
    notRouter: { maxIntervalSeconds: 30, minIntervalSeconds: 10, routerLifetimeSeconds: 0, dnsLifetimeSeconds: 45, validLifetimeSeconds: 4294967295, preferredLifetimeSeconds: 4294967295, dnsServers: ['2001:db8:100::54'], searchDomains: ['other.example'], mtu: 1400 },
    fastest: { maxIntervalSeconds: 4, minIntervalSeconds: 3, routerLifetimeSeconds: 9000, preferredLifetimeSeconds: 0 },
  };
  const stateOf = (name: string) => frrState((input) => (input.guestNetworks[0].ra = settings[name]));
  const pairs = Object.keys(settings).flatMap((from) => Object.keys(settings).filter((to) => to !== from).map((to) => [from, to] as const));

  it.each(pairs)('%s to %s: zebra holds what the state says, and a second run changes nothing', async (from, to) => {
    const host = new MemoryHost(['eth1', 'eth2', 'eth3']);
    const reconciler = new Reconciler(host, config, silent);
    await reconciler.load();
    expect((await reconciler.reconcile(stateOf(from))).ok).toBe(true);
    const result = await reconciler.reconcile(stateOf(to));
    expect(result.ok, JSON.stringify(result.components.frr)).toBe(true);
    expect(host.zebra.interfaces).toEqual(zebraSettingsOf(stateOf(to)));
    expect((await reconciler.reconcile(stateOf(to))).applied).toEqual([]);
  });
});
