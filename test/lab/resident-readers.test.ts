import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SystemHost } from '../../src/host/system-host.js';
import { readNetwork } from '../../src/observe/read-host.js';
import { AgentConfig } from '../../src/schema/agent-config.js';
import { canRunLab } from './lab-guard.js';
import { Lab } from './netns.js';

/**
 * The readers the agent keeps running (Host.ask), against the real kernel in
 * a namespace of the test's own: `ip -6 -j -batch -` must not report a stale
 * interface name after a rename, `vr6-nft-genid --serve` must see every
 * commit, and `vr6-route-genid --serve` every change to the main table's
 * IPv6 routes and to links, and nothing else.
 */
(canRunLab(['ip', 'nft']) ? describe : describe.skip)('resident readers on the real kernel', () => {
  let lab: Lab;
  let config: AgentConfig;
  const host = new SystemHost();

  beforeAll(async () => {
    lab = await Lab.create();
    await lab.addNamespace('vr');
    await lab.addNamespace('up');
    await lab.addLink('vr', 'pub0', 'up', 'core0');
    const ns = lab.namespace('vr');
    // The resident commands run in the lab's namespace through wrappers, as the agent's run in its own.
    const wrap = (name: string, command: string) => {
      const path = join(lab.tempDir, name);
      writeFileSync(path, `#!/bin/sh\nexec ip netns exec ${ns} ${command} "$@"\n`);
      chmodSync(path, 0o755);
      return path;
    };
    config = AgentConfig.parse({
      paths: { stateDir: join(lab.tempDir, 'state'), runtimeDir: lab.tempDir },
      commands: {
        ip: wrap('ip', 'ip'),
        nftGenid: wrap('genid', join(process.cwd(), 'dist/vr6-nft-genid')),
        routeGenid: wrap('route-genid', join(process.cwd(), 'dist/vr6-route-genid')),
      },
    });
    await lab.exec('vr', ['ip', '-6', 'addr', 'add', '2001:db8:f::2/64', 'dev', 'pub0', 'nodad']);
    await lab.exec('vr', ['ip', '-6', 'route', 'add', 'default', 'via', '2001:db8:f::1', 'dev', 'pub0']);
  }, 30_000);

  afterAll(async () => {
    host.closeResidents();
    await lab?.cleanup();
  });

  it('reports a renamed link by its new name in links, addresses and routes', async () => {
    const before = await readNetwork(host, config);
    expect(before.routes.map((r) => r.interface)).toEqual(['pub0']);
    await lab.exec('vr', ['ip', 'link', 'set', 'pub0', 'down']);
    await lab.exec('vr', ['ip', 'link', 'set', 'pub0', 'name', 'eth9']);
    await lab.exec('vr', ['ip', 'link', 'set', 'eth9', 'up']);
    await lab.exec('vr', ['ip', '-6', 'addr', 'replace', '2001:db8:f::2/64', 'dev', 'eth9', 'nodad']);
    await lab.exec('vr', ['ip', '-6', 'route', 'replace', 'default', 'via', '2001:db8:f::1', 'dev', 'eth9']);
    const after = await readNetwork(host, config);
    expect(after.links.map((l) => l.name).sort()).toEqual(['eth9', 'lo']);
    expect(after.addresses.filter((a) => a.address === '2001:db8:f::2').map((a) => a.interface)).toEqual(['eth9']);
    expect(after.routes.map((r) => `${r.gateway} ${r.interface}`)).toEqual(['2001:db8:f::1 eth9']);
  });

  it('sees a new link and a new address without starting again', async () => {
    await lab.exec('vr', ['ip', 'link', 'add', 'name', 'eth5', 'type', 'veth', 'peer', 'name', 'eth6']);
    await lab.exec('vr', ['ip', 'link', 'set', 'eth5', 'up']);
    await lab.exec('vr', ['ip', '-6', 'addr', 'add', '2001:db8:5::1/64', 'dev', 'eth5', 'nodad']);
    const network = await readNetwork(host, config);
    expect(network.links.find((l) => l.name === 'eth5')?.isUp).toBe(true);
    expect(network.addresses.some((a) => a.interface === 'eth5' && a.address === '2001:db8:5::1')).toBe(true);
  });

  it('reads a generation id that moves by one with every commit, from anyone', async () => {
    const generation = async () => Number((await host.ask([config.commands.nftGenid, '--serve'], ['']))[0]);
    const first = await generation();
    expect(await generation()).toBe(first);
    await lab.exec('vr', ['nft', 'add', 'table', 'ip6', 'someone_else']);
    expect(await generation()).toBe(first + 1);
    await lab.exec('vr', ['nft', 'delete', 'table', 'ip6', 'someone_else']);
    expect(await generation()).toBe(first + 2);
  });

  it('counts one change per route of the main table written, by anyone, and per link change, but none in other tables or IPv4', async () => {
    const generation = async () => {
      const [instance, count] = (await host.ask([config.commands.routeGenid, '--serve'], ['']))[0]!.split(' ');
      return { instance, count: Number(count) };
    };
    const ip = (...args: string[]) => lab.exec('vr', ['ip', ...args]);
    const first = await generation();
    expect(await generation()).toEqual(first);
    const after = async (change: () => Promise<unknown>) => {
      const before = await generation();
      await change();
      const now = await generation();
      expect(now.instance).toBe(before.instance);
      return now.count - before.count;
    };
    const route = ['2001:db8:4000::/56', 'via', '2001:db8:5::a', 'dev', 'eth5', 'proto', '118'];
    expect(await after(() => ip('-6', 'route', 'replace', ...route))).toBe(1);
    expect(await after(() => ip('-6', 'route', 'replace', ...route))).toBe(1);
    expect(await after(() => ip('-6', 'route', 'replace', '2001:db8:4000::/56', 'via', '2001:db8:5::b', 'dev', 'eth5', 'proto', '118'))).toBe(1);
    expect(await after(() => ip('-6', 'route', 'del', '2001:db8:4000::/56', 'dev', 'eth5', 'proto', '118'))).toBe(1);
    const batch = Array.from({ length: 1000 }, (_, i) => `route replace 2001:db8:${(0x5000 + i).toString(16)}::/56 via 2001:db8:5::a dev eth5 proto 118\n`).join('');
    expect(await after(() => lab.exec('vr', ['ip', '-6', '-batch', '-'], { input: batch }))).toBe(1000);
    expect(await after(() => ip('-6', 'route', 'replace', '2001:db8:ffff::/64', 'dev', 'lo', 'table', '4242'))).toBe(0);
    expect(await after(() => ip('route', 'replace', '198.51.100.0/24', 'dev', 'lo'))).toBe(0);
    expect(await after(() => ip('-6', 'addr', 'add', '2001:db8:6::1/64', 'dev', 'eth5', 'nodad'))).toBeGreaterThan(0);
    expect(await after(() => ip('link', 'set', 'eth6', 'mtu', '1400'))).toBeGreaterThan(0);
    // A route through a nexthop object changes with the object: the object's change is counted.
    await ip('link', 'set', 'eth6', 'up');
    await ip('nexthop', 'add', 'id', '77', 'via', '2001:db8:5::a', 'dev', 'eth5');
    await ip('-6', 'route', 'add', '2001:db8:6000::/56', 'nhid', '77', 'proto', '118');
    expect(await after(() => ip('nexthop', 'replace', 'id', '77', 'via', '2001:db8:5::b', 'dev', 'eth5'))).toBeGreaterThan(0);
    expect(await after(() => ip('nexthop', 'del', 'id', '77'))).toBeGreaterThan(0);
    // A new process counts from zero: its instance says so.
    host.closeResidents();
    expect((await generation()).instance).not.toBe(first.instance);
  });
});
