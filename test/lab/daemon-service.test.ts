import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNotifyReceiver, type NotifyReceiver } from '../support/notify-receiver.js';
import { canRunLab } from './lab-guard.js';
import { isPidAlive, waitFor, type Lab, type LabProcess } from './netns.js';
import { createTopology, NS } from './topology.js';
import { agentNode, bundlePath, labDesiredState } from './vr-lab.js';

/**
 * The daemon as systemd runs it, without systemd: the bundled agent on the
 * VR's Node in a lab namespace, NOTIFY_SOCKET pointing at a stand-in socket
 * and WATCHDOG_USEC set. Asserts what reaches the socket, what vr6ctl gets
 * from the control socket, and the files and processes left behind.
 */

const describeLab = canRunLab(['ip', 'nft', 'radvd', 'python3', 'systemd-notify']) ? describe : describe.skip;
const TOKEN = 'lab-token-Vx93kQ';

describeLab('the daemon under a service manager', () => {
  let lab: Lab;
  let receiver: NotifyReceiver;
  let agent: LabProcess;
  let dir: string;
  const paths = () => ({ socket: join(dir, 'run/control.sock'), radvdConf: join(dir, 'run/radvd.conf'), stall: join(dir, 'stall') });
  const agentLog = () => readFileSync(agent.logPath, 'utf8');

  function vr6ctl(...argv: string[]) {
    return vr6ctlWithInput('', ...argv);
  }

  function vr6ctlWithInput(input: string, ...argv: string[]) {
    const result = spawnSync(agentNode(), [join(bundlePath('vr6-agent'), '../vr6ctl.js'), '--socket', paths().socket, ...argv], { encoding: 'utf8', timeout: 30_000, input });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  function writeConfig(file: string, overrides: Record<string, unknown> = {}): void {
    const config = {
      management: { urls: ['ws://[fd00:c::1]:9'], tokenFile: join(dir, 'token'), backoffInitialSeconds: 0.2, backoffMaxSeconds: 1 },
      paths: {
        stateDir: join(dir, 'state'),
        runtimeDir: join(dir, 'run'),
        interfacesFile: join(dir, 'state/interfaces'),
        radvdConfig: join(dir, 'run/radvd.conf'),
        radvdPidFile: join(dir, 'run/radvd.pid'),
      },
      // A hanging nft on demand: while the stall file exists, every nft call sleeps (and records its PID).
      commands: { nft: join(dir, 'nft') },
      bootParameters: { file: join(dir, 'cmdline') },
      resyncSeconds: 1,
      logLevel: 'info',
      ...overrides,
    };
    writeFileSync(file, JSON.stringify(config));
  }

  beforeAll(async () => {
    const topology = await createTopology({ upstreamRadvd: false, guests: false });
    lab = topology.lab;
    dir = join(lab.tempDir, 'agent');
    mkdirSync(join(dir, 'state'), { recursive: true });
    writeFileSync(join(dir, 'state/desired.json'), JSON.stringify({ generation: 1, spec: labDesiredState() }));
    writeFileSync(join(dir, 'token'), 'file-token-unused\n');
    writeFileSync(join(dir, 'cmdline'), `type=vpcrouter name=r-lab-VM vr6_token=${TOKEN}\n`);
    writeFileSync(join(dir, 'nft'), `#!/bin/sh\nif [ -e ${paths().stall} ]; then echo $$ > ${paths().stall}.pid; exec sleep 300; fi\nexec nft "$@"\n`);
    chmodSync(join(dir, 'nft'), 0o755);
    writeConfig(join(dir, 'agent.json'));
    lab.trackPidFile(NS.vr, join(dir, 'run/radvd.pid'));
    receiver = await startNotifyReceiver(lab.tempDir, [paths().socket, paths().radvdConf]);
    const env = ['env', `NOTIFY_SOCKET=${receiver.path}`, 'WATCHDOG_USEC=1000000'];
    agent = await lab.spawn(NS.vr, [...env, agentNode(), bundlePath('vr6-agent'), '--config', join(dir, 'agent.json')]);
  }, 60_000);

  afterAll(async () => {
    await receiver?.stop();
    await lab?.cleanup();
  });

  it('sends READY=1 only once the persisted state is applied and the control socket listens', async () => {
    const ready = await receiver.waitFor((m) => m.text.split('\n').includes('READY=1'), 30_000, 'READY=1');
    expect(ready.ready_paths).toEqual({ [paths().socket]: true, [paths().radvdConf]: true });
    expect(ready.text).toMatch(/^READY=1\nSTATUS=generation 1 applied; management disconnected; public none$/);
    expect(ready.pid).toBe(agent.pid);
  });

  it('answers vr6ctl on the control socket with the real state', () => {
    const status = vr6ctl('status', '--json');
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ routerId: 'r-lab-VM', desiredGeneration: 1, applied: { generation: 1, ok: true }, loop: { isHealthy: true } });
    const plan = vr6ctl('plan');
    expect(plan.stdout).toContain('plan for generation 1 (the accepted state)');
    expect(vr6ctl('show', 'desired').stdout).toContain('"generation": 1');
    const invalid = vr6ctlWithInput('{"schemaVersion": 1}', 'plan', '-');
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('vr6ctl: the desired state is invalid\n  $.spec.');
  });

  it('changes the log level at run time', async () => {
    expect(agentLog()).not.toMatch(/"level":20/);
    expect(vr6ctl('log-level', 'debug')).toMatchObject({ code: 0, stdout: 'log level: info -> debug\n' });
    await waitFor(async () => /"level":20,[^\n]*"component":"agent"/.test(agentLog()), { timeoutMs: 5000, what: 'a debug line from the agent' });
  });

  it('withholds WATCHDOG=1 while a reconcile hangs, and pings again once it returns', async () => {
    await receiver.waitFor((m) => m.text === 'WATCHDOG=1', 5000, 'a first watchdog ping');
    writeFileSync(paths().stall, '');
    const stalledPid = await waitFor(async () => (existsSync(`${paths().stall}.pid`) ? Number(readFileSync(`${paths().stall}.pid`, 'utf8')) : undefined), {
      timeoutMs: 10_000,
      what: 'a reconcile to call the hanging nft',
    });
    // Healthy means a run within max(watchdog 1 s, 2 × resync 1 s) = 2 s; the ping timer ticks every
    // 0.5 s, and the first tick that finds the loop stale logs that it withholds the ping.
    const withheldAtMs = await waitFor(async () => readLogTimeMs(agentLog(), 'reconcile loop is stalled, withholding the watchdog ping'), {
      timeoutMs: 10_000,
      what: 'the agent to withhold its watchdog ping',
    });
    // An absence needs a window: the ticks 0.5, 1 and 1.5 s later would each have pinged, and a ping
    // lands within milliseconds. One sent by the tick before the withholding one may land until the first.
    const TICK_MS = 500;
    await new Promise((resolve) => setTimeout(resolve, withheldAtMs + 4.5 * TICK_MS - Date.now()));
    const pingsWhileStalled = receiver.messages().filter((m) => m.text === 'WATCHDOG=1' && m.time * 1000 > withheldAtMs + TICK_MS);
    expect(pingsWhileStalled).toEqual([]);
    expect(vr6ctl('status', '--json').code).toBe(4);
    rmSync(paths().stall);
    process.kill(stalledPid, 'SIGTERM');
    const resumedAt = Date.now() / 1000;
    await receiver.waitFor((m) => m.text === 'WATCHDOG=1' && m.time > resumedAt, 5000, 'the watchdog ping to come back');
    expect(agentLog()).toContain('reconcile loop is stalled, withholding the watchdog ping');
    expect(agentLog()).toContain('reconcile loop recovered');
  }, 30_000);

  it('refuses to start a second agent beside the first, before touching the host', () => {
    const second = join(dir, 'second.json');
    writeConfig(second);
    const result = lab.exec(NS.vr, [agentNode(), bundlePath('vr6-agent'), '--config', second], { allowFailure: true });
    return result.then(({ exitCode, stderr }) => {
      expect(exitCode).toBe(1);
      expect(stderr).toContain('is vr6-agent already running?');
    });
  });

  it('names a bad config key and exits 2', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ managment: {}, resyncSeconds: 0 }));
    const { exitCode, stderr } = await lab.exec(NS.vr, [agentNode(), bundlePath('vr6-agent'), '--config', bad], { allowFailure: true });
    expect(exitCode).toBe(2);
    expect(stderr).toContain(`vr6-agent: ${bad}: $.managment: is not a known key (allowed here: routerId, management,`);
    expect(stderr).toContain(`vr6-agent: ${bad}: $.resyncSeconds:`);
  });

  it('never logs the token', () => {
    expect(agentLog()).toContain('bearer token will be sent over unencrypted ws://');
    expect(agentLog()).not.toContain(TOKEN);
  });

  it('on SIGTERM sends STOPPING=1, removes its socket and leaves radvd advertising', async () => {
    const radvdPid = Number(readFileSync(join(dir, 'run/radvd.pid'), 'utf8'));
    expect(isPidAlive(radvdPid)).toBe(true);
    process.kill(agent.pid, 'SIGTERM');
    expect(await agent.exited).toEqual({ code: 0, signal: null });
    expect(receiver.messages().at(-1)?.text).toBe('STOPPING=1\nSTATUS=stopping');
    expect(existsSync(paths().socket)).toBe(false);
    expect(isPidAlive(radvdPid)).toBe(true);
  });
});

/** The time (epoch ms) of the agent's first log line with message `msg`, or undefined. */
function readLogTimeMs(log: string, msg: string): number | undefined {
  const line = log.split('\n').find((l) => l.startsWith('{') && l.includes(`"msg":${JSON.stringify(msg)}`));
  const ms = line === undefined ? NaN : Date.parse((JSON.parse(line) as { time: string }).time);
  return Number.isFinite(ms) ? ms : undefined;
}
