import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Agent } from '../../src/daemon/agent.js';
import { AddressMonitor, type MonitorEvent } from '../../src/observe/address-monitor.js';
import { agentConfigIn } from '../support/agent-config.js';
import { MemoryHost } from '../support/memory-host.js';
import { isolatedInput } from '../support/states.js';

/**
 * The address monitor on the in-memory host, whose kernel prints a line to
 * every running `ip -o monitor` for each change. The real `ip monitor` and
 * kernel are proven by the lab's daemon tests.
 */

/** Resolves once `isDone` holds; rejects after the deadline. */
async function until(isDone: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!isDone()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('the address monitor on the in-memory host', () => {
  afterEach(() => void vi.useRealTimers());

  it("reports the kernel's address and link changes as they happen", async () => {
    const host = new MemoryHost(['eth1', 'eth2']);
    const events: MonitorEvent[] = [];
    const monitor = new AddressMonitor(host, 'ip', (event) => events.push(event), () => undefined);
    monitor.start();
    await host.exec(['ip', '-6', 'addr', 'replace', '2001:db8:200:1::1/64', 'dev', 'eth2']);
    await host.exec(['ip', '-6', 'addr', 'del', '2001:db8:200:1::1/64', 'dev', 'eth2']);
    host.addLink('eth9', '52:54:00:00:00:09');
    await until(() => events.length === 3, 'three events');
    expect(events).toEqual([
      { kind: 'address', interface: 'eth2', isDeleted: false },
      { kind: 'address', interface: 'eth2', isDeleted: true },
      { kind: 'link', interface: 'eth9', isDeleted: false },
    ]);
    monitor.stop();
    await host.exec(['ip', '-6', 'addr', 'replace', '2001:db8:200:1::1/64', 'dev', 'eth2']);
    expect(host.monitorPids()).toEqual([]);
    expect(events).toHaveLength(3);
  });

  it('starts a monitor that died again a second later, and none after stop', async () => {
    vi.useFakeTimers();
    const host = new MemoryHost(['eth1']);
    const exits: (number | null)[] = [];
    const events: MonitorEvent[] = [];
    const monitor = new AddressMonitor(host, 'ip', (event) => events.push(event), (code) => exits.push(code));
    monitor.start();
    const [first] = host.monitorPids();
    host.signal(first!, 'SIGTERM');
    await vi.advanceTimersByTimeAsync(999);
    expect(exits).toEqual([null]);
    expect(host.monitorPids()).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(host.monitorPids()).toHaveLength(1);
    await host.exec(['ip', '-6', 'addr', 'replace', '2001:db8:100::5/64', 'dev', 'eth1']);
    await vi.advanceTimersByTimeAsync(0);
    expect(events).toEqual([{ kind: 'address', interface: 'eth1', isDeleted: false }]);

    // Stopped while waiting to restart: it stays stopped.
    host.signal(host.monitorPids()[0]!, 'SIGTERM');
    await vi.advanceTimersByTimeAsync(0);
    monitor.stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(host.monitorPids()).toEqual([]);
    expect(exits).toEqual([null, null]);
  });

  it('makes the agent put back a guest gateway someone deleted, on the event alone', async () => {
    const host = new MemoryHost(['eth1', 'eth2', 'eth3']);
    const config = agentConfigIn('/vr', { routerId: 'r-1-VM' });
    const agent = new Agent({ host, config, log: pino({ level: 'silent' }), version: 'test', send: () => true });
    const monitor = new AddressMonitor(host, config.commands.ip, (event) => agent.onMonitorEvent(event), () => undefined);
    monitor.start();
    await agent.start();
    await agent.handleMessage({ type: 'desired', generation: 1, spec: isolatedInput() });
    await agent.idle();
    const gateway = { interface: 'eth2', address: '2001:db8:200:1::1', prefixLength: 64 };
    expect(host.addresses).toContainEqual(gateway);
    await host.exec(['ip', '-6', 'addr', 'del', '2001:db8:200:1::1/64', 'dev', 'eth2']);
    expect(host.addresses).not.toContainEqual(gateway);
    await until(() => host.addresses.some((a) => a.address === gateway.address && a.interface === gateway.interface), 'the gateway back on eth2');
    monitor.stop();
    agent.stop();
    await agent.idle();
  });
});
