import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopHealthy, readWatchdogMs, SystemdNotifier } from '../../src/daemon/systemd-notify.js';
import { SystemHost } from '../../src/host/system-host.js';
import { startNotifyReceiver, type NotifyReceiver } from '../support/notify-receiver.js';

/**
 * The notifier against a real AF_UNIX datagram socket (a python3 receiver
 * standing in for systemd) through the real systemd-notify tool.
 */
describe('systemd notifier', () => {
  let directory: string;
  let receiver: NotifyReceiver;

  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'vr6-notify-'));
    receiver = await startNotifyReceiver(directory);
  });

  afterAll(async () => {
    await receiver?.stop();
    rmSync(directory, { recursive: true, force: true });
  });

  it('delivers messages in call order, one line per assignment, newlines flattened', async () => {
    const notifier = new SystemdNotifier(new SystemHost(), receiver.path);
    expect(notifier.isEnabled).toBe(true);
    const results = await Promise.all([
      notifier.notify({ STATUS: 'starting\nstill starting' }),
      notifier.notify({ READY: '1', STATUS: 'generation 3 applied' }),
      notifier.notify({ WATCHDOG: '1' }),
      notifier.notify({ STOPPING: '1' }),
    ]);
    expect(results).toEqual([null, null, null, null]);
    await receiver.waitFor((m) => m.text === 'STOPPING=1', 5000, 'STOPPING=1');
    expect(receiver.messages().map((m) => m.text)).toEqual([
      'STATUS=starting still starting',
      'READY=1\nSTATUS=generation 3 applied',
      'WATCHDOG=1',
      'STOPPING=1',
    ]);
    // Run as root, systemd-notify names its caller, which is what NotifyAccess=main checks.
    if (process.getuid?.() === 0) expect(new Set(receiver.messages().map((m) => m.pid))).toEqual(new Set([process.pid]));
  });

  it('does nothing without NOTIFY_SOCKET, and reports a dead socket as an error instead of throwing', async () => {
    expect(await new SystemdNotifier(new SystemHost(), undefined).notify({ READY: '1' })).toBeNull();
    expect(new SystemdNotifier(new SystemHost(), '').isEnabled).toBe(false);
    const failed = await new SystemdNotifier(new SystemHost(), join(directory, 'nobody-listens')).notify({ READY: '1' });
    expect(failed).toBeInstanceOf(Error);
  });
});

describe('watchdog settings', () => {
  it('reads WATCHDOG_USEC, only for this process', () => {
    expect(readWatchdogMs({ WATCHDOG_USEC: '30000000' })).toBe(30_000);
    expect(readWatchdogMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: String(process.pid) })).toBe(30_000);
    expect(readWatchdogMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1' })).toBeNull();
    expect(readWatchdogMs({})).toBeNull();
    expect(readWatchdogMs({ WATCHDOG_USEC: 'x' })).toBeNull();
  });

  it('counts the loop as healthy for the longer of the watchdog interval and two resyncs', () => {
    const now = 1_000_000;
    expect(isLoopHealthy(now, now - 29_000, 30_000, 10)).toBe(true);
    expect(isLoopHealthy(now, now - 31_000, 30_000, 10)).toBe(false);
    expect(isLoopHealthy(now, now - 100_000, 30_000, 60)).toBe(true);
    expect(isLoopHealthy(now, now - 121_000, 30_000, 60)).toBe(false);
  });
});
