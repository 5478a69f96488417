import { describe, expect, it } from 'vitest';
import { renderStatusLine } from '../../src/daemon/control-commands.js';
import { isLeftoverMonitor, parseServiceCgroup, sweepLeftoverMonitors } from '../../src/daemon/leftover-processes.js';
import { AddressMonitor, MONITOR_ARGS } from '../../src/observe/address-monitor.js';
import { MemoryHost } from '../support/memory-host.js';
import type { StatusResult } from '../../src/schema/control-protocol.js';

function status(overrides: Partial<StatusResult>): StatusResult {
  return {
    version: '0.1.0',
    pid: 1,
    startedAt: '2026-01-01T00:00:00.000Z',
    logLevel: 'info',
    routerId: null,
    management: { isConfigured: true, isConnected: false, url: null, lastDisconnect: null },
    desiredGeneration: null,
    applied: null,
    publicAddress: null,
    bgp: null,
    observedWarnings: [],
    loop: { lastRunAt: '2026-01-01T00:00:00.000Z', isHealthy: true },
    recentProblems: [],
    ...overrides,
  };
}

const applied = (generation: number, ok: boolean, remaining: string[] = []) => ({
  generation,
  ok,
  isConverged: ok,
  durationMs: 1,
  components: {},
  errors: ok ? [] : ['a step failed, or the host kept differing'],
  remaining,
});

describe('systemd STATUS= line', () => {
  it('says what is applied, whether management is connected, and the public address', () => {
    expect(renderStatusLine(status({}))).toBe('no desired state; management disconnected; public none');
    expect(renderStatusLine(status({ desiredGeneration: 2 }))).toBe('generation 2 accepted, not applied; management disconnected; public none');
    expect(
      renderStatusLine(
        status({
          desiredGeneration: 3,
          applied: applied(3, true),
          publicAddress: '2001:db8:100::5/64',
          management: { isConfigured: true, isConnected: true, url: 'wss://m', lastDisconnect: null },
        }),
      ),
    ).toBe('generation 3 applied; management connected; public 2001:db8:100::5/64');
    expect(renderStatusLine(status({ desiredGeneration: 4, applied: applied(3, false) }))).toBe('generation 3 FAILED (desired 4); management disconnected; public none');
    expect(renderStatusLine(status({ desiredGeneration: 3, applied: applied(3, false, ['sysctl net/ipv6/conf/all/forwarding: 0 -> 1']) }))).toBe(
      'generation 3 NOT CONVERGED; management disconnected; public none',
    );
    expect(renderStatusLine(status({ management: { isConfigured: false, isConnected: false, url: null, lastDisconnect: null } }))).toContain('management not configured');
  });
});

describe('leftover address monitors', () => {
  it('recognises only the agent monitor argv', () => {
    expect(isLeftoverMonitor(['ip', '-o', 'monitor', 'address', 'link'])).toBe(true);
    expect(isLeftoverMonitor(['/usr/sbin/ip', '-o', 'monitor', 'address', 'link'])).toBe(true);
    expect(isLeftoverMonitor(['radvd', '-C', '/run/vr6-agent/radvd.conf'])).toBe(false);
    expect(isLeftoverMonitor(['ip', '-o', 'monitor', 'address'])).toBe(false);
    expect(isLeftoverMonitor(['skip', '-o', 'monitor', 'address', 'link'])).toBe(false);
    expect(isLeftoverMonitor(null)).toBe(false);
  });

  it('reads the service cgroup from a unified or hybrid hierarchy, and nothing outside a service', () => {
    expect(parseServiceCgroup('0::/system.slice/vr6-agent.service\n')).toBe('/system.slice/vr6-agent.service');
    expect(parseServiceCgroup('9:name=systemd:/system.slice/vr6-agent.service\n8:pids:/\n0::/system.slice/vr6-agent.service\n')).toBe('/system.slice/vr6-agent.service');
    expect(parseServiceCgroup('1:name=systemd:/system.slice/vr6-agent.service\n2:pids:/\n')).toBe('/system.slice/vr6-agent.service');
    expect(parseServiceCgroup('0::/user.slice/session-1.scope\n')).toBeNull();
    expect(parseServiceCgroup('')).toBeNull();
  });

  it("ends an earlier agent's monitor in the service cgroup and leaves radvd and itself running", async () => {
    const host = new MemoryHost();
    const service = '9:name=systemd:/system.slice/vr6-agent.service\n0::/system.slice/vr6-agent.service\n';
    host.files.set('/proc/self/cgroup', service);
    for (const pid of [100, 200, 300]) host.files.set(`/proc/${pid}/cgroup`, service);
    host.files.set('/proc/400/cgroup', '0::/system.slice/other.service\n');
    host.processes.set(100, { argv: ['/usr/bin/node', '/usr/lib/vr6-agent/vr6-agent.js'], hangups: 0 });
    host.processes.set(200, { argv: ['ip', '-o', 'monitor', 'address', 'link'], hangups: 0 });
    host.processes.set(300, { argv: ['radvd', '-C', '/run/vr6-agent/radvd.conf', '-p', '/run/vr6-agent/radvd.pid'], hangups: 0 });
    host.processes.set(400, { argv: ['ip', '-o', 'monitor', 'address', 'link'], hangups: 0 });
    // A PID whose process is gone by the time its files are read.
    host.files.set('/proc/1/cgroup', service);
    expect(await sweepLeftoverMonitors(host, 100)).toEqual([200]);
    expect([...host.processes.keys()]).toEqual([100, 300, 400]);
  });

  it('ends the monitor an earlier agent started, before this agent starts its own', async () => {
    const host = new MemoryHost(['eth1']);
    host.files.set('/proc/self/cgroup', '0::/system.slice/vr6-agent.service\n');
    // The earlier agent was killed; its monitor runs on, in the service's cgroup.
    host.watch(['ip', ...MONITOR_ARGS], () => undefined, () => undefined);
    const [earlier] = host.monitorPids();
    expect(await sweepLeftoverMonitors(host, 100)).toEqual([earlier]);
    const own = new AddressMonitor(host, 'ip', () => undefined, () => undefined);
    own.start();
    expect(host.monitorPids()).toHaveLength(1);
    expect(host.monitorPids()).not.toContain(earlier);
    own.stop();
    expect(host.monitorPids()).toEqual([]);
  });

  it('touches nothing when not run as a systemd service', async () => {
    const host = new MemoryHost();
    host.files.set('/proc/self/cgroup', '0::/user.slice/session-1.scope\n');
    host.files.set('/proc/200/cgroup', '0::/user.slice/session-1.scope\n');
    host.processes.set(200, { argv: ['ip', '-o', 'monitor', 'address', 'link'], hangups: 0 });
    expect(await sweepLeftoverMonitors(host, 100)).toEqual([]);
    expect([...host.processes.keys()]).toEqual([200]);
  });
});
