import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunLab } from './lab-guard.js';
import { waitFor, type Lab, type LabProcess } from './netns.js';
import { asNobody, stageForOtherUsers, type StagedProgram } from './other-user.js';
import { createTopology, MGMT, NS } from './topology.js';
import { agentNode, bundlePath, labDesiredState } from './vr-lab.js';

/**
 * The control path, with the bundled agent on the VR's
 * Node in the VR namespace and vr6-sim in the mgmt namespace, over wss with
 * certificates made here by openssl. Each agent has its own directory; only
 * the trusted one ever gets a desired state. docs/security.md is the threat
 * model these cases stand behind.
 */

const describeLab = canRunLab(['ip', 'nft', 'radvd', 'openssl', 'setpriv']) ? describe : describe.skip;
const TOKEN = 'ctl-token-7hQz2Lw';
const WRONG_TOKEN = 'ctl-wrong-Pk4rT9';
const BACKOFF_MAX_SECONDS = 1;

/** A CA, and leaves it signs: openssl in `dir`, EC P-256, valid one day. */
function makePki(dir: string): void {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore', timeout: 20_000 });
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const ca of ['ca', 'other-ca', 'client-ca']) run(['req', '-x509', ...key, '-days', '1', '-subj', `/CN=vr6 test ${ca}`, '-keyout', `${ca}.key`, '-out', `${ca}.crt`]);
  const leaves: [string, string, string][] = [
    ['server', 'ca', `subjectAltName=IP:${MGMT}`],
    ['wrong-name', 'ca', 'subjectAltName=IP:fd00:c::99,DNS:mgmt.invalid'],
    ['client', 'client-ca', 'extendedKeyUsage=clientAuth'],
    ['rogue-client', 'other-ca', 'extendedKeyUsage=clientAuth'],
  ];
  for (const [name, ca, extension] of leaves) {
    writeFileSync(join(dir, `${name}.ext`), `${extension}\n`);
    run(['req', '-new', ...key, '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
    run(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '1', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
  }
}

describeLab('the control path', () => {
  let lab: Lab;
  let pki = '';
  let nobodyCtl: StagedProgram;
  const sims = new Map<number, LabProcess>();
  const agents = new Map<string, { process: LabProcess; dir: string }>();

  /** vr6-sim on [MGMT]:port over wss with the given server certificate; `extra` adds flags. */
  async function startSim(port: number, cert: string, extra: string[] = [], generation = 5): Promise<LabProcess> {
    const argv = [process.execPath, bundlePath('vr6-sim'), '--listen', `[${MGMT}]:${port}`, '--token-file', join(pki, 'token')];
    argv.push('--tls-cert', join(pki, `${cert}.crt`), '--tls-key', join(pki, `${cert}.key`), '--desired', join(pki, 'desired.json'), '--generation', String(generation), ...extra);
    const sim = await lab.spawn(NS.mgmt, argv);
    sims.set(port, sim);
    await waitFor(async () => simEvents(port).some((e) => e.event === 'listening'), { timeoutMs: 10_000, what: `vr6-sim on port ${port} to listen` });
    return sim;
  }

  function simEvents(port: number): Record<string, any>[] {
    const sim = sims.get(port);
    if (!sim) return [];
    return readFileSync(sim.logPath, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  }

  /** The bundled agent in the VR namespace, dialling wss://[MGMT]:port; `management` overrides its keys. */
  async function startAgent(name: string, port: number, management: Record<string, unknown>, token = TOKEN): Promise<{ process: LabProcess; dir: string }> {
    const dir = join(lab.tempDir, name);
    mkdirSync(dir, { mode: 0o711 });
    writeFileSync(join(dir, 'token'), `${token}\n`);
    const config = {
      management: { urls: [`wss://[${MGMT}]:${port}`], tokenFile: join(dir, 'token'), caFile: join(pki, 'ca.crt'), heartbeatSeconds: 5, backoffInitialSeconds: 0.1, backoffMaxSeconds: BACKOFF_MAX_SECONDS, ...management },
      paths: { stateDir: join(dir, 'state'), runtimeDir: join(dir, 'run'), interfacesFile: join(dir, 'state/interfaces'), radvdConfig: join(dir, 'run/radvd.conf'), radvdPidFile: join(dir, 'run/radvd.pid') },
      bootParameters: { isEnabled: false },
      resyncSeconds: 5,
      logLevel: 'debug',
    };
    writeFileSync(join(dir, 'agent.json'), JSON.stringify(config));
    lab.trackPidFile(NS.vr, join(dir, 'run/radvd.pid'));
    const process = await lab.spawn(NS.vr, [agentNode(), bundlePath('vr6-agent'), '--config', join(dir, 'agent.json')], { logPath: join(dir, 'agent.log') });
    const agent = { process, dir };
    agents.set(name, agent);
    return agent;
  }

  const agentLog = (name: string) => readFileSync(join(agents.get(name)?.dir ?? '', 'agent.log'), 'utf8');
  const failedAttempts = (name: string) =>
    agentLog(name).split('\n').filter((l) => l.includes('"connect attempt failed"')).map((l) => JSON.parse(l) as { kind: string; detail: string; code: number | null; retryInMs: number });

  /** Waits until the agent has failed `count` attempts in a row: it keeps trying, backing off. */
  async function waitForFailures(name: string, count: number) {
    return waitFor(async () => (failedAttempts(name).length >= count ? failedAttempts(name) : undefined), { timeoutMs: 30_000, what: `${name} to fail ${count} attempts` });
  }

  /**
   * vr6ctl `args` as root from the checkout, or as nobody from the copy made
   * for it: the checkout may live where nobody cannot read (/root, mktemp -d).
   */
  function vr6ctlAs(user: 'root' | 'nobody', args: string[]) {
    const vr6ctl = join(bundlePath('vr6-agent'), '../vr6ctl.js');
    const argv = user === 'root' ? [agentNode(), vr6ctl, ...args] : asNobody([nobodyCtl.node, nobodyCtl.script, ...args]);
    const result = spawnSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', timeout: 30_000 });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  beforeAll(async () => {
    lab = (await createTopology({ upstreamRadvd: false, guests: false })).lab;
    // Others may traverse down to the agents' directories; the agent makes its runtime directory 0700 itself.
    chmodSync(lab.tempDir, 0o711);
    nobodyCtl = stageForOtherUsers(join(lab.tempDir, 'nobody-ctl'), agentNode(), join(bundlePath('vr6-agent'), '../vr6ctl.js'));
    pki = join(lab.tempDir, 'pki');
    mkdirSync(pki);
    makePki(pki);
    writeFileSync(join(pki, 'token'), `${TOKEN}\n`);
    writeFileSync(join(pki, 'desired.json'), JSON.stringify(labDesiredState()));
    await startSim(8801, 'server', ['--tls-ca', join(pki, 'client-ca.crt')]);
    await startSim(8802, 'server');
    await startSim(8803, 'wrong-name');
    await startAgent('trusted', 8801, { certFile: join(pki, 'client.crt'), keyFile: join(pki, 'client.key') });
    await startAgent('wrong-ca', 8802, { caFile: join(pki, 'other-ca.crt') });
    await startAgent('wrong-name', 8803, {});
    await startAgent('wrong-token', 8802, {}, WRONG_TOKEN);
    await startAgent('no-client-cert', 8801, {});
    await startAgent('rogue-client-cert', 8801, { certFile: join(pki, 'rogue-client.crt'), keyFile: join(pki, 'rogue-client.key') });
  }, 120_000);

  afterAll(async () => {
    await lab?.cleanup();
  });

  it('applies the state of a server that proves itself, to an agent that proves itself by token and client certificate', async () => {
    await waitFor(async () => simEvents(8801).find((e) => e.event === 'applied' && e.message.generation === 5 && e.message.ok), { timeoutMs: 60_000, what: 'the trusted agent to apply generation 5' });
    const hellos = simEvents(8801).filter((e) => e.event === 'hello');
    expect(hellos).toHaveLength(1);
    expect((await lab.exec(NS.vr, ['nft', 'list', 'table', 'ip6', 'vr6_agent'])).stdout).toContain('chain forward');
  });

  it('refuses a server signed by another CA, and one whose certificate names another host', async () => {
    const wrongCa = await waitForFailures('wrong-ca', 3);
    for (const failure of wrongCa) expect(failure).toMatchObject({ kind: 'error', detail: expect.stringMatching(/certificate/i) });
    const wrongName = await waitForFailures('wrong-name', 3);
    for (const failure of wrongName) expect(failure).toMatchObject({ kind: 'error', detail: expect.stringContaining('ERR_TLS_CERT_ALTNAME_INVALID') });
    expect(simEvents(8803).filter((e) => e.event === 'connected' || e.event === 'hello')).toEqual([]);
    expect(agentLog('wrong-ca')).not.toContain('"desired state accepted"');
  });

  it('is refused with a wrong token, backs off within its bound, and never logs a token', async () => {
    const refusals = await waitForFailures('wrong-token', 4);
    for (const refusal of refusals) expect(refusal).toMatchObject({ kind: 'refused', code: 401 });
    for (const refusal of refusals) expect(refusal.retryInMs).toBeLessThanOrEqual(BACKOFF_MAX_SECONDS * 1000);
    expect(simEvents(8802).filter((e) => e.event === 'refused' && e.status === 401).length).toBeGreaterThanOrEqual(refusals.length);
    // Only wrong-ca (refused at TLS) and wrong-token dial 8802: no hello got through.
    expect(simEvents(8802).filter((e) => e.event === 'hello')).toEqual([]);
    for (const name of agents.keys()) {
      expect(agentLog(name)).not.toContain(TOKEN);
      expect(agentLog(name)).not.toContain(WRONG_TOKEN);
    }
  });

  it('with mutual TLS, refuses an agent without a client certificate or with one from another CA', async () => {
    const missing = await waitForFailures('no-client-cert', 3);
    const rogue = await waitForFailures('rogue-client-cert', 3);
    for (const failure of [...missing, ...rogue]) expect(failure.kind).toBe('error');
    expect(simEvents(8801).filter((e) => e.event === 'tls-refused').length).toBeGreaterThanOrEqual(6);
    expect(simEvents(8801).filter((e) => e.event === 'hello')).toHaveLength(1);
  });

  it('keeps its real host when the server restarts serving an older generation', async () => {
    const { dir } = agents.get('trusted') ?? { dir: '' };
    const before = { ruleset: (await lab.exec(NS.vr, ['nft', '-a', 'list', 'table', 'ip6', 'vr6_agent'])).stdout, radvd: statSync(join(dir, 'run/radvd.conf')).mtimeMs };
    await lab.stop(sims.get(8801) as LabProcess);
    const older = await startSim(8801, 'server', ['--tls-ca', join(pki, 'client-ca.crt')], 2);
    expect(older.pid).toBeGreaterThan(0);
    const ack = await waitFor(async () => simEvents(8801).find((e) => e.event === 'ack'), { timeoutMs: 30_000, what: 'an ack from the trusted agent' });
    expect(ack.message).toMatchObject({ generation: 2, status: 'stale' });
    expect(simEvents(8801).find((e) => e.event === 'hello')?.message).toMatchObject({ lastAcceptedGeneration: 5 });
    const after = { ruleset: (await lab.exec(NS.vr, ['nft', '-a', 'list', 'table', 'ip6', 'vr6_agent'])).stdout, radvd: statSync(join(dir, 'run/radvd.conf')).mtimeMs };
    expect(after.ruleset.replace(/packets \d+ bytes \d+/g, '')).toBe(before.ruleset.replace(/packets \d+ bytes \d+/g, ''));
    expect(after.radvd).toBe(before.radvd);
    expect(JSON.parse(readFileSync(join(dir, 'state/desired.json'), 'utf8')).generation).toBe(5);
  });

  it('refuses the control socket to the nobody user, by the modes of the socket and of its directory', () => {
    const run = join(agents.get('trusted')?.dir ?? '', 'run');
    const socket = join(run, 'control.sock');
    const status = ['--socket', socket, 'status', '--json'];
    // Exit 3 alone could be any unreachable socket: the refusal names this socket and the permission.
    const expectRefused = (result: ReturnType<typeof vr6ctlAs>) => {
      expect(result.code, result.stderr).toBe(3);
      expect(result.stderr).toContain(`vr6ctl: permission denied on ${socket}`);
    };
    expect(statSync(run).mode & 0o777).toBe(0o700);
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    expect(vr6ctlAs('root', status).code).toBe(0);
    // nobody can run its copy of vr6ctl at all; otherwise no refusal below would prove anything.
    const help = vr6ctlAs('nobody', ['--help']);
    expect(help.code, help.stderr).toBe(0);
    expectRefused(vr6ctlAs('nobody', status));
    try {
      // The directory alone is not the only guard: opened, the socket's own 0600 still refuses.
      chmodSync(run, 0o711);
      expectRefused(vr6ctlAs('nobody', status));
      // A control that the check can fail: with the socket opened to everyone, nobody is answered.
      chmodSync(socket, 0o666);
      const answered = vr6ctlAs('nobody', status);
      expect(answered.code, answered.stderr).toBe(0);
    } finally {
      chmodSync(socket, 0o600);
      chmodSync(run, 0o700);
    }
  });
});
