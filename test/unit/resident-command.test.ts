import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ExecError } from '../../src/host/host.js';
import { SystemHost } from '../../src/host/system-host.js';
import { bundleSystemHost, expectAgentAndChildToEnd, isAlive } from '../support/child-processes.js';

/**
 * The resident commands behind Host.ask, with real processes: small shell
 * scripts that print their PID, so a test can tell one process from the next.
 */
const ECHO = ['sh', '-c', 'while read -r line; do echo "$$ $line"; done'];
const pidOf = (line: string | undefined) => Number(line?.split(' ')[0]);

describe('Host.ask on the real machine', () => {
  it('answers each request in order from one process kept between questions', async () => {
    const host = new SystemHost();
    const first = await host.ask(ECHO, ['a', 'b']);
    const second = await host.ask(ECHO, ['c']);
    expect(first.map((line) => line.split(' ')[1])).toEqual(['a', 'b']);
    expect(second[0]?.split(' ')[1]).toBe('c');
    expect(pidOf(second[0])).toBe(pidOf(first[0]));
    host.closeResidents();
  });

  it('serves concurrent questions one at a time, each with its own answers', async () => {
    const host = new SystemHost();
    const answers = await Promise.all(['x', 'y', 'z'].map((word) => host.ask(ECHO, [word, word])));
    expect(answers.map((lines) => lines.map((line) => line.split(' ')[1]))).toEqual([
      ['x', 'x'],
      ['y', 'y'],
      ['z', 'z'],
    ]);
    host.closeResidents();
  });

  it('rejects with the command and its stderr when it exits, and the next question starts a new one', async () => {
    const host = new SystemHost();
    const dying = ['sh', '-c', 'read -r line; echo "$$ $line"; read -r line; echo "cannot go on" >&2; exit 3'];
    const [first] = await host.ask(dying, ['one']);
    const error = await host.ask(dying, ['two']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExecError);
    expect((error as ExecError).exitCode).toBe(3);
    expect((error as ExecError).message).toMatch(/^sh -c .* failed \(exit 3\): cannot go on/);
    const [again] = await host.ask(dying, ['three']);
    expect(pidOf(again)).not.toBe(pidOf(first));
    host.closeResidents();
  });

  it('kills a command that misses the timeout, and asks a new one next time', async () => {
    const host = new SystemHost();
    const silentOnce = ['sh', '-c', 'echo $$ > /dev/stderr; read -r line; sleep 30'];
    const started = performance.now();
    const error = await host.ask(silentOnce, ['hello'], { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(5000);
    expect((error as ExecError).message).toMatch(/no answer within 300 ms/);
    const [line] = await host.ask(ECHO, ['still here']);
    expect(line).toMatch(/ still here$/);
    host.closeResidents();
  });

  it('rejects an answer with more lines than requests, and does not trust that process again', async () => {
    const host = new SystemHost();
    // One write, so the two lines arrive together.
    const chatty = ['sh', '-c', 'while read -r line; do printf "%s\\nextra\\n" "$$ $line"; done'];
    const error = await host.ask(chatty, ['one']).catch((e: unknown) => e);
    expect((error as ExecError).message).toMatch(/answered 2 lines to 1 requests|output nobody asked for/);
    const error2 = await host.ask(chatty, ['two']).catch((e: unknown) => e);
    expect(error2).toBeInstanceOf(ExecError);
  });

  it('reports a command that cannot start', async () => {
    const host = new SystemHost();
    const error = await host.ask(['/nonexistent/vr6-helper'], ['']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExecError);
    expect((error as ExecError).exitCode).toBeNull();
  });

  it('fresh ends the running process and asks a new one', async () => {
    const host = new SystemHost();
    const [first] = await host.ask(ECHO, ['a']);
    const [second] = await host.ask(ECHO, ['b'], { fresh: true });
    expect(pidOf(second)).not.toBe(pidOf(first));
    expect(isAlive(pidOf(first))).toBe(false);
    host.closeResidents();
  });

  it('ends with an agent killed by SIGKILL (the unit runs with KillMode=process)', async () => {
    const { work, bundlePath } = bundleSystemHost();
    const script = `
      const { SystemHost } = require(${JSON.stringify(bundlePath)});
      new SystemHost().ask(['sh', '-c', 'while read -r l; do echo $$; done'], ['']).then(([pid]) => console.log(pid));
      setInterval(() => undefined, 1000);
    `;
    const { spawn } = await import('node:child_process');
    const agent = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pid = await new Promise<number>((resolve) => agent.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))));
    rmSync(work, { recursive: true, force: true });
    expect(isAlive(pid)).toBe(true);
    agent.kill('SIGKILL');
    const deadline = Date.now() + 5000;
    while (isAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(isAlive(pid)).toBe(false);
  });

  it('keeps no agent alive, and the resident ends with the agent', () => {
    // A Node process that asks once and returns: it must exit by itself, and its resident after it.
    expectAgentAndChildToEnd("new SystemHost().ask(['sh', '-c', 'while read -r l; do echo $$; done'], ['']).then(([pid]) => console.log(pid));");
  });
});
