import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';

/** Whether a PID is a live process: a zombie is not. */
export function isAlive(pid: number): boolean {
  return existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(spawnSync('cat', [`/proc/${pid}/status`], { encoding: 'utf8' }).stdout);
}

/** The PIDs of the live children of this process whose argv is `argv`, read from /proc. */
export function findChildren(argv: readonly string[]): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // After the command name in parentheses: the state, then the parent's PID.
      const [state, parent] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(parent) !== process.pid || state === 'Z') continue;
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0$/, '').split('\0');
      if (cmdline.join('\0') === argv.join('\0')) pids.push(Number(name));
    } catch {
      // It ended while listed.
    }
  }
  return pids;
}

/** The one live child of argv, waited for up to timeoutMs; throws when none or several appear. */
export async function waitForChild(argv: readonly string[], timeoutMs = 5000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = findChildren(argv);
    if (pids.length > 1) throw new Error(`${pids.length} children of ${argv.join(' ')}: ${pids.join(', ')}`);
    if (pids.length === 1) return pids[0]!;
    if (Date.now() > deadline) throw new Error(`no child ${argv.join(' ')} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** SystemHost alone, bundled, for a Node process of its own that plays the agent; remove `work` after. */
export function bundleSystemHost(): { work: string; bundlePath: string } {
  const work = mkdtempSync(join(tmpdir(), 'vr6-system-host-'));
  const bundlePath = join(work, 'system-host.cjs');
  const argv = ['esbuild', 'src/host/system-host.ts', '--bundle', '--platform=node', '--format=cjs', `--outfile=${bundlePath}`, '--log-level=error'];
  const bundle = spawnSync('npx', argv, { encoding: 'utf8' });
  expect(bundle.status, bundle.stderr).toBe(0);
  return { work, bundlePath };
}

/**
 * Runs a Node process that plays the agent, `body` with SystemHost in scope,
 * which must exit by itself (status 0), then waits up to 5 s for the process
 * whose PID it printed to end too, and expects it gone.
 */
export function expectAgentAndChildToEnd(body: string): void {
  const { work, bundlePath } = bundleSystemHost();
  const script = `const { SystemHost } = require(${JSON.stringify(bundlePath)});\n${body}`;
  const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 });
  rmSync(work, { recursive: true, force: true });
  expect(run.status, run.stderr).toBe(0);
  const pid = Number(run.stdout.trim());
  expect(pid).toBeGreaterThan(0);
  const deadline = Date.now() + 5000;
  while (isAlive(pid) && Date.now() < deadline) spawnSync('sleep', ['0.05']);
  expect(isAlive(pid)).toBe(false);
}
