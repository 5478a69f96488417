import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDuration } from '../../src/cli/format.js';
import { formatJournalLine } from '../../src/cli/journal-format.js';
import { EXIT, runCli, type CliIo } from '../../src/cli/run.js';
import { ControlSocketServer } from '../../src/daemon/control-socket.js';
import { ControlError, type ControlRequest, type PlanResult, type StatusResult } from '../../src/schema/control-protocol.js';

const NOW = Date.parse('2026-01-02T03:04:05.000Z');

function statusResult(overrides: Partial<StatusResult> = {}): StatusResult {
  return {
    version: '0.1.0',
    pid: 4242,
    startedAt: '2026-01-02T01:00:00.000Z',
    logLevel: 'info',
    routerId: 'r-12-VM',
    management: { isConfigured: true, isConnected: true, url: 'wss://[fd00:c::1]:8765', lastDisconnect: null },
    desiredGeneration: 3,
    applied: {
      generation: 3,
      ok: true,
      isConverged: true,
      durationMs: 412,
      components: { firewall: { status: 'ok', steps: 0 }, addresses: { status: 'changed', steps: 2 } },
      errors: [],
      remaining: [],
    },
    publicAddress: '2001:db8:100::5054:ff:fe12:3456/64',
    bgp: null,
    observedWarnings: [],
    loop: { lastRunAt: '2026-01-02T03:03:53.000Z', isHealthy: true },
    recentProblems: [],
    ...overrides,
  };
}

/** What the fake agent answers; tests set it before running the CLI. */
let answer: (request: ControlRequest) => unknown;
const requests: ControlRequest[] = [];

async function vr6ctl(argv: string[], env: NodeJS.ProcessEnv = {}, stdin = '') {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    write: (text) => void (stdout += text),
    writeError: (text) => void (stderr += text),
    readStdin: async () => stdin,
    env: { ...process.env, ...env },
    now: () => NOW,
  };
  const code = await runCli(['--socket', socketPath, ...argv], io);
  return { code, stdout, stderr };
}

let directory: string;
let socketPath: string;
let server: ControlSocketServer;

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'vr6ctl-'));
  socketPath = join(directory, 'control.sock');
  server = new ControlSocketServer(
    socketPath,
    async (request) => {
      requests.push(request);
      return answer(request);
    },
    pino({ level: 'silent' }),
  );
  await server.listen();
});

afterAll(async () => {
  await server?.close();
  rmSync(directory, { recursive: true, force: true });
});

describe('vr6ctl status', () => {
  it('prints a table for people and exits 0 when the last reconcile succeeded', async () => {
    answer = () => statusResult();
    const { code, stdout } = await vr6ctl(['status']);
    expect(code).toBe(EXIT.ok);
    expect(stdout).toBe(
      [
        'agent       vr6-agent 0.1.0, pid 4242, up 2h04m, log level info',
        'router      r-12-VM',
        'management  connected to wss://[fd00:c::1]:8765',
        'desired     generation 3',
        'applied     generation 3, ok, 412 ms',
        'public      2001:db8:100::5054:ff:fe12:3456/64',
        'loop        healthy, last run 12s ago',
        'components  firewall ok, addresses changed (2)',
        '',
      ].join('\n'),
    );
  });

  it('exits 4 after a failed reconcile or with a stalled loop, and shows the errors', async () => {
    const failed = statusResult({
      applied: {
        generation: 3,
        ok: false,
        isConverged: false,
        durationMs: 9,
        components: { radvd: { status: 'failed', steps: 0, error: 'radvd -c: exit 1' } },
        errors: ['checkRadvdConfig: exit 1'],
        remaining: [],
      },
      recentProblems: [{ time: '2026-01-02T03:04:00.000Z', level: 'error', component: 'reconcile', message: 'step failed' }],
    });
    answer = () => failed;
    const { code, stdout } = await vr6ctl(['status']);
    expect(code).toBe(EXIT.notConverged);
    expect(stdout).toContain('applied     generation 3, FAILED, 9 ms');
    expect(stdout).toContain('errors and warnings:\n  checkRadvdConfig: exit 1');
    expect(stdout).toContain('recent problems in the log:\n  2026-01-02T03:04:00.000Z ERROR reconcile: step failed');
    answer = () => statusResult({ loop: { lastRunAt: '2026-01-02T02:00:00.000Z', isHealthy: false } });
    expect((await vr6ctl(['status'])).code).toBe(EXIT.notConverged);
  });

  it('prints the result itself as JSON with --json, with the same exit code', async () => {
    answer = () => statusResult({ management: { isConfigured: true, isConnected: false, url: null, lastDisconnect: 'refused: 401' } });
    const { code, stdout } = await vr6ctl(['status', '--json']);
    expect(code).toBe(EXIT.ok);
    expect(JSON.parse(stdout)).toMatchObject({ management: { isConnected: false, lastDisconnect: 'refused: 401' }, desiredGeneration: 3 });
  });

  it('exits 3 with a hint when no agent listens', async () => {
    const { code, stderr } = await vr6ctl(['--socket', join(directory, 'none.sock'), 'status']);
    expect(code).toBe(EXIT.unreachable);
    expect(stderr).toContain('is vr6-agent running?');
  });
});

describe('vr6ctl plan, reconcile, show, log-level', () => {
  const plan: PlanResult = {
    source: 'accepted',
    generation: 3,
    steps: [
      { kind: 'setSysctl', component: 'sysctls', description: 'sysctl net/ipv6/conf/eth2/forwarding: 0 -> 1' },
      { kind: 'reloadRadvd', component: 'radvd', description: 'reloadRadvd pid 77' },
    ],
    warnings: ['interface eth3 does not exist; its settings wait for it'],
  };

  it('lists the planned steps and exits 4 while there are any, 0 when converged', async () => {
    answer = () => plan;
    const changes = await vr6ctl(['plan']);
    expect(changes.code).toBe(EXIT.notConverged);
    expect(changes.stdout).toBe(
      [
        'plan for generation 3 (the accepted state): 2 changes',
        '  sysctls         sysctl net/ipv6/conf/eth2/forwarding: 0 -> 1',
        '  radvd           reloadRadvd pid 77',
        'warnings:',
        '  interface eth3 does not exist; its settings wait for it',
        '',
      ].join('\n'),
    );
    answer = () => ({ ...plan, steps: [], warnings: [] });
    const converged = await vr6ctl(['plan']);
    expect(converged).toMatchObject({ code: EXIT.ok, stdout: 'plan for generation 3 (the accepted state): no changes, the host matches\n' });
  });

  it('sends a given desired state from a file or stdin, and shows the field errors of an invalid one with exit 1', async () => {
    const file = join(directory, 'desired.json');
    writeFileSync(file, '{"schemaVersion": 1}');
    answer = () => {
      throw new ControlError('invalid-spec', 'the desired state is invalid', [{ path: '$.spec.router', message: 'is required' }]);
    };
    const invalid = await vr6ctl(['plan', file]);
    expect(invalid.code).toBe(EXIT.failed);
    expect(invalid.stderr).toBe('vr6ctl: the desired state is invalid\n  $.spec.router: is required\n');
    expect(requests.at(-1)).toEqual({ command: 'plan', spec: { schemaVersion: 1 } });
    answer = () => ({ ...plan, source: 'given', generation: null, steps: [], warnings: [] });
    const fromStdin = await vr6ctl(['plan', '-'], {}, '{"schemaVersion": 2}');
    expect(fromStdin.stdout).toBe('plan for the given desired state: no changes, the host matches\n');
    expect(requests.at(-1)).toEqual({ command: 'plan', spec: { schemaVersion: 2 } });
  });

  it('exits 2 without asking the agent when the command line is wrong', async () => {
    const before = requests.length;
    for (const argv of [[], ['dance'], ['show'], ['show', 'secrets'], ['log-level', 'loud'], ['status', 'extra'], ['plan', join(directory, 'missing.json')], ['--timeout', '0', 'status']]) {
      const { code, stderr } = await vr6ctl(argv);
      expect(code, argv.join(' ')).toBe(EXIT.usage);
      expect(stderr, argv.join(' ')).toMatch(/^vr6ctl: /);
    }
    expect(requests.length).toBe(before);
  });

  it('reports a reconcile, exiting 1 when it failed or when there is nothing to reconcile, 4 when it did not converge', async () => {
    const report = { type: 'applied', generation: 3, ok: true, isConverged: true, durationMs: 120, components: {}, errors: [], repaired: [], remaining: [] };
    answer = () => ({ ...report, components: { firewall: { status: 'changed', steps: 1 } } });
    expect(await vr6ctl(['reconcile'])).toMatchObject({ code: EXIT.ok, stdout: 'generation 3: ok in 120 ms\ncomponents: firewall changed (1)\n' });
    answer = () => ({ ...report, ok: false, isConverged: false, durationMs: 5, errors: ['loadRuleset: exit 1'] });
    expect(await vr6ctl(['reconcile'])).toMatchObject({ code: EXIT.failed, stdout: expect.stringMatching(/^generation 3: FAILED in 5 ms\n/) });
    const remaining = ['sysctl net/ipv6/conf/eth2/accept_ra: 1 -> 0'];
    answer = () => ({ ...report, ok: false, isConverged: false, errors: [`not converged after 3 passes: the host still differs (${remaining[0]})`], remaining });
    expect(await vr6ctl(['reconcile'])).toMatchObject({ code: EXIT.notConverged, stdout: expect.stringMatching(/^generation 3: NOT CONVERGED in 120 ms\n/) });
    answer = () => {
      throw new ControlError('no-desired-state', 'no desired state has been accepted yet; nothing to reconcile');
    };
    expect(await vr6ctl(['reconcile'])).toMatchObject({ code: EXIT.failed, stderr: 'vr6ctl: no desired state has been accepted yet; nothing to reconcile\n' });
  });

  it('shows data as JSON and changes the log level', async () => {
    answer = (request) => (request.command === 'show' ? { generation: 3, spec: { schemaVersion: 1 } } : { previous: 'info', level: 'debug' });
    const shown = await vr6ctl(['show', 'desired']);
    expect(JSON.parse(shown.stdout)).toEqual({ generation: 3, spec: { schemaVersion: 1 } });
    expect(requests.at(-1)).toEqual({ command: 'show', topic: 'desired' });
    expect(await vr6ctl(['log-level', 'debug'])).toMatchObject({ code: EXIT.ok, stdout: 'log level: info -> debug\n' });
    expect(requests.at(-1)).toEqual({ command: 'log-level', level: 'debug' });
  });
});

describe('vr6ctl logs', () => {
  it("pretty-prints the unit's journal from journalctl, passing -f and -n on", async () => {
    const bin = join(directory, 'bin');
    const argsFile = join(directory, 'journalctl.args');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(bin, { recursive: true });
    writeFileSync(
      join(bin, 'journalctl'),
      `#!/bin/sh\necho "$@" > ${argsFile}\necho 'Started vr6-agent.service - IPv6 agent.'\necho '{"level":30,"time":"2026-01-02T03:04:05.000Z","component":"agent","generation":3,"msg":"desired state accepted"}'\n`,
    );
    chmodSync(join(bin, 'journalctl'), 0o755);
    const env = { PATH: `${bin}:${process.env.PATH ?? ''}` };
    const pretty = await vr6ctl(['logs', '-f', '-n', '20'], env);
    expect(pretty.code).toBe(EXIT.ok);
    expect(readFileSync(argsFile, 'utf8').trim()).toBe('-u vr6-agent -o cat --no-pager -f -n 20');
    expect(pretty.stdout).toBe('Started vr6-agent.service - IPv6 agent.\n2026-01-02T03:04:05.000Z INFO  agent     [gen 3] desired state accepted\n');
    const raw = await vr6ctl(['logs', '--json'], env);
    expect(raw.stdout.split('\n')[1]).toBe('{"level":30,"time":"2026-01-02T03:04:05.000Z","component":"agent","generation":3,"msg":"desired state accepted"}');
  });
});

describe('journal line format', () => {
  it('shows time, level, component, generation and step, then the other fields', () => {
    const line = JSON.stringify({ level: 50, time: '2026-01-02T03:04:05.000Z', component: 'reconcile', generation: 7, step: 'loadRuleset', msg: 'step failed', err: { message: 'nft: exit 1', stack: 'Error: ...' }, durationMs: 12 });
    expect(formatJournalLine(line)).toBe('2026-01-02T03:04:05.000Z ERROR reconcile [gen 7 loadRuleset] step failed  err="nft: exit 1"  durationMs=12');
  });

  it('passes lines that are not pino JSON through unchanged', () => {
    for (const line of ['vr6-agent.service: Watchdog timeout (limit 30s)!', '{not json', '[1,2]']) expect(formatJournalLine(line)).toBe(line);
  });

  it('writes durations for people', () => {
    expect([999, 45_000, 192_000, 7_500_000, 273_600_000].map(formatDuration)).toEqual(['0s', '45s', '3m12s', '2h05m', '3d04h']);
  });
});
