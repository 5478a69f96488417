import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startHeartbeat } from '../../src/daemon/heartbeat.js';
import { MemoryHost } from '../support/memory-host.js';

const PATH = '/run/vr6-agent/agent-heartbeat';
const log = pino({ level: 'silent' });

describe("the agent's heartbeat for keepalived", () => {
  afterEach(() => void vi.useRealTimers());

  it('is written at once, and again every second while the loop runs', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const host = new MemoryHost();
    const timer = await startHeartbeat(host, PATH, { lastLoopAt: Date.now() }, null, 5, log);
    expect(host.files.get(PATH)).toBe('1000000\n');
    await vi.advanceTimersByTimeAsync(1000);
    expect(host.files.get(PATH)).toBe('1001000\n');
    clearInterval(timer);
  });

  it('stops while the reconcile loop is stuck (two resyncs missed), so keepalived takes the role away', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const host = new MemoryHost();
    const clock = { lastLoopAt: Date.now() };
    const timer = await startHeartbeat(host, PATH, clock, null, 5, log);
    await vi.advanceTimersByTimeAsync(12_000);
    // The last write came while the loop had run within 10 s.
    expect(host.files.get(PATH)).toBe('1009000\n');
    clock.lastLoopAt = Date.now();
    await vi.advanceTimersByTimeAsync(1000);
    expect(host.files.get(PATH)).toBe('1013000\n');
    clearInterval(timer);
  });
});
