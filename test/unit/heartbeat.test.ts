import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isHeartbeatLapsed, startHeartbeat } from '../../src/daemon/heartbeat.js';
import { MemoryHost } from '../support/memory-host.js';

const PATH = '/run/vr6-agent/agent-heartbeat';
const log = pino({ level: 'silent' });

describe("the agent's heartbeat for keepalived", () => {
  afterEach(() => void vi.useRealTimers());

  it('is written at once, and again every second while the loop runs', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const host = new MemoryHost();
    const timer = await startHeartbeat(host, PATH, { lastLoopMonotonicMs: performance.now() }, null, 5, log);
    expect(host.files.get(PATH)).toBe('1000000 1000000\n');
    await vi.advanceTimersByTimeAsync(1000);
    expect(host.files.get(PATH)).toBe('1001000 1000000\n');
    clearInterval(timer);
  });

  it('stops while the reconcile loop is stuck (two resyncs missed), so keepalived takes the role away', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const host = new MemoryHost();
    const clock = { lastLoopMonotonicMs: performance.now() };
    const timer = await startHeartbeat(host, PATH, clock, null, 5, log);
    await vi.advanceTimersByTimeAsync(12_000);
    // The last write came while the loop had run within 10 s.
    expect(host.files.get(PATH)).toBe('1009000 1008000\n');
    clock.lastLoopMonotonicMs = performance.now();
    await vi.advanceTimersByTimeAsync(1000);
    // The first beat after the gap records it: keepalived's fault is then explained by it.
    expect(host.files.get(PATH)).toBe('1013000 1009000\n');
    expect(isHeartbeatLapsed(host.files.get(PATH)!, Date.now())).toBe(false);
    clearInterval(timer);
  });

  it('tells a fault that came of a lapsed heartbeat, now or just before the agent ran again', () => {
    // Older than the 6 s grace now: the agent is still away.
    expect(isHeartbeatLapsed('1000000 999000\n', 1_007_000)).toBe(true);
    expect(isHeartbeatLapsed('1000000 999000\n', 1_005_000)).toBe(false);
    // Written again after a 9 s gap: the fault keepalived reported meanwhile was the heartbeat's.
    expect(isHeartbeatLapsed('1009000 1000000\n', 1_009_500)).toBe(true);
    // A restart's gap (2.5 s) is within the grace; a gap long past no longer explains a fault.
    expect(isHeartbeatLapsed('1002500 1000000\n', 1_003_000)).toBe(false);
    expect(isHeartbeatLapsed('1009000 1000000\n', 1_060_000)).toBe(true);
    expect(isHeartbeatLapsed(null, 1_000_000)).toBe(false);
    expect(isHeartbeatLapsed('garbage', 1_000_000)).toBe(false);
  });

  it('goes on through a wall-clock step: the age of the loop is read on the monotonic clock', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const host = new MemoryHost();
    const timer = await startHeartbeat(host, PATH, { lastLoopMonotonicMs: performance.now() }, null, 5, log);
    // An NTP step of an hour forward: the loop ran a second ago all the same.
    vi.setSystemTime(1_000_000 + 3_600_000);
    await vi.advanceTimersByTimeAsync(1000);
    expect(host.files.get(PATH)).toBe('4601000 1000000\n');
    clearInterval(timer);
  });

  it('continues the record of an earlier agent, so a restart shows its gap', async () => {
    vi.useFakeTimers({ now: 1_003_000 });
    const host = new MemoryHost();
    host.files.set(PATH, '1000000 999000\n');
    const timer = await startHeartbeat(host, PATH, { lastLoopMonotonicMs: performance.now() }, null, 5, log);
    expect(host.files.get(PATH)).toBe('1003000 1000000\n');
    clearInterval(timer);
  });

  it('is not overlapped by the next beat, which would share its temp file', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const host = new SlowHost();
    const timer = await startHeartbeat(host, PATH, { lastLoopMonotonicMs: performance.now() }, null, 5, log);
    host.writeMs = 2500;
    await vi.advanceTimersByTimeAsync(10_000);
    clearInterval(timer);
    await vi.advanceTimersByTimeAsync(3000);
    // Like the real host's shared temp file: a write that starts while another is in flight fails its rename.
    expect(host.failedWrites).toBe(0);
    expect(host.files.get(PATH)).toMatch(/^10\d{5} 10\d{5}\n$/);
  });
});

/** A host whose atomic write takes writeMs, and fails when another one is in flight. */
class SlowHost extends MemoryHost {
  writeMs = 0;
  failedWrites = 0;
  private inFlight = 0;

  override async writeFileAtomic(path: string, content: string): Promise<void> {
    this.inFlight += 1;
    try {
      if (this.writeMs > 0) await new Promise((resolve) => setTimeout(resolve, this.writeMs));
      if (this.inFlight > 1) {
        this.failedWrites += 1;
        throw new Error(`ENOENT: no such file or directory, rename '${path}.tmp'`);
      }
      await super.writeFileAtomic(path, content);
    } finally {
      this.inFlight -= 1;
    }
  }
}
