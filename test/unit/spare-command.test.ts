import { describe, expect, it } from 'vitest';
import { ExecError } from '../../src/host/host.js';
import { SystemHost } from '../../src/host/system-host.js';
import { expectAgentAndChildToEnd, isAlive, waitForChild } from '../support/child-processes.js';

/**
 * Host.exec with `spare`, with real processes: a process of the argv is
 * spawned after an exec and waits; the next exec of that argv runs in it.
 * The spare is found in /proc (a child of this process with that argv)
 * before the exec that takes it, so these tests fail without spares.
 */
const PID_ONCE = ['sh', '-c', 'echo $$; cat >/dev/null', 'spare-pid'];

async function errorOf(result: Promise<unknown>): Promise<ExecError> {
  const error = await result.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(ExecError);
  return error as ExecError;
}

describe('Host.exec with a spare on the real machine', () => {
  it('gives the stdout, stderr, exit status and ExecError of a fresh spawn', async () => {
    const host = new SystemHost();
    const failing = ['sh', '-c', 'cat; echo err >&2; exit 3'];
    const fresh = await errorOf(host.exec(failing, { input: 'hello\n' }));
    await errorOf(host.exec(failing, { input: 'hello\n', spare: true }));
    const spare = await waitForChild(failing);
    const fromSpare = await errorOf(host.exec(failing, { input: 'hello\n', spare: true }));
    expect(isAlive(spare)).toBe(false);
    expect({ ...fromSpare, message: fromSpare.message }).toEqual({ ...fresh, message: fresh.message });
    expect(fromSpare).toMatchObject({ argv: failing, exitCode: 3, stderr: 'err\n' });

    const succeeding = ['sh', '-c', 'cat; echo err >&2'];
    const expected = await host.exec(succeeding, { input: 'hello\n' });
    await host.exec(succeeding, { input: 'hello\n', spare: true });
    await waitForChild(succeeding);
    expect(await host.exec(succeeding, { input: 'hello\n', spare: true })).toEqual(expected);
    expect(expected).toEqual({ stdout: 'hello\n', stderr: 'err\n', exitCode: 0 });
    host.close();
  });

  it('runs each exec in the spare spawned before it, and a spare once', async () => {
    const host = new SystemHost();
    const first = Number((await host.exec(PID_ONCE, { spare: true })).stdout);
    const spare = await waitForChild(PID_ONCE);
    expect(spare).not.toBe(first);
    const second = Number((await host.exec(PID_ONCE, { spare: true })).stdout);
    expect(second).toBe(spare);
    const nextSpare = await waitForChild(PID_ONCE);
    expect(nextSpare).not.toBe(spare);
    expect(Number((await host.exec(PID_ONCE, { spare: true })).stdout)).toBe(nextSpare);
    host.close();
  });

  it('spawns afresh, with no error, when the spare was killed before its exec', async () => {
    const host = new SystemHost();
    await host.exec(PID_ONCE, { spare: true });
    const spare = await waitForChild(PID_ONCE);
    process.kill(spare, 'SIGKILL');
    while (isAlive(spare)) await new Promise((resolve) => setTimeout(resolve, 10));
    const pid = Number((await host.exec(PID_ONCE, { spare: true })).stdout);
    expect(pid).toBeGreaterThan(0);
    expect(pid).not.toBe(spare);
    host.close();
  });

  it('times out an exec in a spare, counting from the exec and not from the spawn', async () => {
    const host = new SystemHost();
    const hanging = ['sh', '-c', 'cat >/dev/null; exec sleep 30', 'spare-hang'];
    await errorOf(host.exec(hanging, { timeoutMs: 200, spare: true }));
    const spare = await waitForChild(hanging);
    const started = performance.now();
    const error = await errorOf(host.exec(hanging, { timeoutMs: 200, spare: true }));
    expect(performance.now() - started).toBeLessThan(5000);
    expect(error.exitCode).toBeNull();
    expect(isAlive(spare)).toBe(false);

    await host.exec(PID_ONCE, { spare: true });
    const idle = await waitForChild(PID_ONCE);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(Number((await host.exec(PID_ONCE, { spare: true, timeoutMs: 200 })).stdout)).toBe(idle);
    host.close();
  });

  it('ends its spares on close', async () => {
    const host = new SystemHost();
    await host.exec(PID_ONCE, { spare: true });
    const spare = await waitForChild(PID_ONCE);
    host.close();
    const deadline = Date.now() + 5000;
    while (isAlive(spare) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(isAlive(spare)).toBe(false);
  });

  it('keeps no agent alive, and the spare ends with the agent', () => {
    // A Node process that execs once and waits for its spare: it must exit by itself, and the spare after it.
    expectAgentAndChildToEnd(`
      const { readdirSync, readFileSync } = require('node:fs');
      const argv = ['sh', '-c', 'cat >/dev/null', 'spare-agent'];
      const findSpare = () => readdirSync('/proc').find((pid) => {
        try { return readFileSync('/proc/' + pid + '/cmdline', 'utf8') === argv.join('\\0') + '\\0'; } catch { return false; }
      });
      const report = () => { const pid = findSpare(); if (pid) console.log(pid); else setTimeout(report, 20); };
      new SystemHost().exec(argv, { spare: true }).then(() => setTimeout(report, 20));
    `);
  });
});
