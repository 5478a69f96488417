import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunLab } from './lab-guard.js';
import { isPidAlive, Lab, runCommand, WaitAbortedError, waitFor, WaitTimeoutError } from './netns.js';
import { isUsableSlaacAddress, parseAddresses, ping, readAddresses, tcpConnect, tcpListen, udpEchoListen, udpExchange, waitForPing, waitForSlaacAddress } from './probes.js';
import { createTopology, IF, INTERNET_HOST, MGMT, NS, PUBLIC_PREFIX, UPSTREAM_ADDRESS, VR_CONTROL_ADDRESS, type Topology } from './topology.js';

const isRoot = process.getuid?.() === 0;
// Skipping is allowed on a developer machine, never in CI.
const labDescribe = canRunLab() ? describe : describe.skip;

function requireRoot(): void {
  if (!isRoot) throw new Error('the lab needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN); CI=true forbids skipping');
}

describe('waitFor', () => {
  it('names what it waited for and the last observation', async () => {
    let round = 0;
    const error = await waitFor(
      async (note) => {
        note({ round: ++round });
        return false;
      },
      { timeoutMs: 200, what: 'the impossible', intervalMs: 20 },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect(String(error)).toMatch(/waiting for the impossible; last observation: \{"round":\d+\}/);
  });

  it('gives up at once on WaitAbortedError', async () => {
    const startedAt = Date.now();
    const give = waitFor(async () => Promise.reject(new WaitAbortedError('daemon died')), { timeoutMs: 5000, what: 'x' });
    await expect(give).rejects.toThrow('daemon died');
    expect(Date.now() - startedAt).toBeLessThan(1000);
  });
});

describe('parseAddresses', () => {
  it('skips the empty entries iproute2 6.1 prints for filtered addresses', () => {
    const json = '[{"ifname":"eth1","addr_info":[{},{"family":"inet6","local":"2001:db8:100::5","prefixlen":64,"scope":"global","dynamic":true,"valid_life_time":86400,"preferred_life_time":14400}]}]';
    const [only, ...rest] = parseAddresses(json);
    expect(rest).toEqual([]);
    expect(only).toMatchObject({ address: '2001:db8:100::5', prefixLength: 64, isDynamic: true, isTentative: false });
    expect(only && isUsableSlaacAddress(only, PUBLIC_PREFIX)).toBe(true);
  });
});

labDescribe('Lab lifecycle', () => {
  it('builds a smaller topology on request', async () => {
    requireRoot();
    const topo = await createTopology({ upstreamRadvd: false, guests: false });
    try {
      expect(topo.radvd).toBeUndefined();
      expect(topo.guests).toEqual([]);
      expect(topo.lab.listOwnNamespaces().sort()).toEqual([NS.mgmt, NS.upstream, NS.vr].map((ns) => topo.lab.namespace(ns)));
      expect(await ping(topo.lab, NS.upstream, UPSTREAM_ADDRESS)).toBe(true);
    } finally {
      await topo.lab.cleanup();
    }
    expect(topo.lab.listOwnNamespaces()).toEqual([]);
  });

  it('undoes a half-built lab', async () => {
    requireRoot();
    const lab = await Lab.create();
    await lab.addNamespace('a');
    const sleeper = await lab.spawn('a', ['sleep', '300']);
    await expect(lab.addLink('a', 'x0', 'missing', 'x1')).rejects.toThrow(/ip link add/);
    await lab.cleanup();
    await lab.cleanup(); // idempotent
    expect(lab.listOwnNamespaces()).toEqual([]);
    expect(isPidAlive(sleeper.pid)).toBe(false);
    expect(existsSync(lab.tempDir)).toBe(false);
  });

  // Runs a bundled copy of netns.ts in a child Node, which then dies by signal or plain exit.
  it.each(['SIGTERM', 'SIGINT', 'exit'] as const)('cleans up on %s', async (how) => {
    requireRoot();
    const dir = mkdtempSync(join(tmpdir(), 'vr6-lab-hook-'));
    try {
      const child = await startHookChild(dir, how);
      const ready = await child.ready;
      if (how !== 'exit') child.proc.kill(how);
      const exit = await child.exited;
      expect(how === 'exit' ? exit.code : exit.signal).toBe(how === 'exit' ? 0 : how);
      expect(ready.pids.length).toBeGreaterThanOrEqual(2);
      const netns = await runCommand(['ip', 'netns', 'list']);
      expect(netns.stdout).not.toContain(ready.prefix);
      await waitFor(async () => ready.pids.every((pid) => !isPidAlive(pid)), { timeoutMs: 3000, what: 'the child lab processes to die' });
      expect(existsSync(ready.tempDir)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

interface HookChildReady {
  prefix: string;
  tempDir: string;
  pids: number[];
}

async function startHookChild(dir: string, how: 'SIGTERM' | 'SIGINT' | 'exit') {
  await build({
    entryPoints: [fileURLToPath(new URL('./netns.ts', import.meta.url))],
    outfile: join(dir, 'netns.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    logLevel: 'silent',
  });
  // `sh -c 'sleep & exec sleep'` leaves one untracked process that only the namespace sweep can find.
  const script = `import { Lab, waitFor } from './netns.mjs';
    const lab = await Lab.create();
    await lab.addNamespace('a');
    await lab.spawn('a', ['sh', '-c', 'sleep 300 & exec sleep 300']);
    const pids = await waitFor(async () => { const p = lab.listNamespacePids(); return p.length >= 2 && p; }, { timeoutMs: 5000, what: 'two pids' });
    console.log(JSON.stringify({ prefix: lab.prefix, tempDir: lab.tempDir, pids }));
    if (${JSON.stringify(how)} === 'exit') process.exit(0);
    setInterval(() => undefined, 1000);`;
  writeFileSync(join(dir, 'child.mjs'), script);
  const proc = spawn(process.execPath, [join(dir, 'child.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = new Promise<HookChildReady>((resolve, reject) => {
    createInterface({ input: proc.stdout }).once('line', (line) => resolve(JSON.parse(line) as HookChildReady));
    void exited.then(() => reject(new Error('hook child exited before it was ready')));
  });
  // If the test fails before the signal is sent, do not leave the child behind.
  const timer = setTimeout(() => proc.kill('SIGTERM'), 20_000).unref();
  void exited.then(() => clearTimeout(timer));
  return { proc, ready, exited };
}

labDescribe('lab topology', () => {
  let topo: Topology;

  beforeAll(async () => {
    requireRoot();
    topo = await createTopology();
    console.info(`lab-lib: topology built in ${topo.buildMs} ms (prefix ${topo.lab.prefix})`);
  });

  afterAll(async () => {
    await topo?.lab.cleanup();
  });

  it('creates the namespaces and leaves the VR unconfigured', async () => {
    const { lab } = topo;
    const netns = (await runCommand(['ip', 'netns', 'list'])).stdout;
    for (const ns of Object.values(NS)) expect(netns).toContain(lab.namespace(ns));
    const sysctl = await lab.exec(NS.vr, ['sysctl', '-n', `net.ipv6.conf.${IF.vrPublic}.accept_ra`, 'net.ipv6.conf.all.forwarding']);
    expect(sysctl.stdout.split('\n').slice(0, 2)).toEqual(['0', '0']);
    for (const ifname of [IF.vrPublic, IF.vrTier1, IF.vrTier2]) {
      const globals = (await readAddresses(lab, NS.vr, ifname)).filter((a) => a.scope === 'global');
      expect(globals, ifname).toEqual([]);
    }
    expect(topo.radvd && !topo.radvd.hasExited()).toBe(true);
  });

  it('upstream radvd answers a router solicitation, and SLAAC follows', async () => {
    const { lab } = topo;
    // Only this check lets the VR's kernel learn from RAs; the agent is what must do it for real.
    await lab.sysctl(NS.vr, `net.ipv6.conf.${IF.vrPublic}.accept_ra`, 1);
    const startedAt = Date.now();
    const rdisc = await lab.exec(NS.vr, ['rdisc6', '-1', '-r', '3', '-w', '1000', IF.vrPublic]);
    expect(rdisc.stdout).toMatch(/Prefix\s*:\s*2001:db8:100::\/64/);
    const address = await waitForSlaacAddress(lab, NS.vr, IF.vrPublic, PUBLIC_PREFIX, 10_000);
    console.info(`lab-lib: RS → usable SLAAC address ${address.address} in ${Date.now() - startedAt} ms`);
    await waitForPing(lab, NS.vr, INTERNET_HOST, 5000); // via the RA's default route
    expect(await ping(lab, NS.vr, UPSTREAM_ADDRESS, { source: address.address })).toBe(true);
    await lab.sysctl(NS.vr, `net.ipv6.conf.${IF.vrPublic}.accept_ra`, 0);
    await lab.exec(NS.vr, ['ip', '-6', 'addr', 'flush', 'dev', IF.vrPublic, 'scope', 'global']);
    await lab.exec(NS.vr, ['ip', '-6', 'route', 'flush', 'dev', IF.vrPublic, 'proto', 'ra']);
  });

  it('pings across the control link both ways', async () => {
    await waitForPing(topo.lab, NS.mgmt, VR_CONTROL_ADDRESS, 3000);
    await waitForPing(topo.lab, NS.vr, MGMT, 3000);
  });

  it('tcp and udp probes tell an open port from a closed one', async () => {
    const { lab } = topo;
    await tcpListen(lab, NS.vr, 8443);
    for (let i = 0; i < 3; i++) expect(await tcpConnect(lab, NS.mgmt, VR_CONTROL_ADDRESS, 8443)).toBe(true);
    expect(await tcpConnect(lab, NS.mgmt, VR_CONTROL_ADDRESS, 8444)).toBe(false);
    await udpEchoListen(lab, NS.mgmt, 5353);
    expect(await udpExchange(lab, NS.vr, MGMT, 5353)).toBe(true);
    expect(await udpExchange(lab, NS.vr, MGMT, 5354, 500)).toBe(false);
  });

  it('cleanup removes every namespace and process', async () => {
    const { lab } = topo;
    const radvdFilePid = Number(readFileSync(topo.radvdPidFile ?? '', 'utf8').trim());
    const pids = [...lab.listNamespacePids(), radvdFilePid, topo.radvd?.pid ?? -1];
    expect(pids.length).toBeGreaterThanOrEqual(4); // radvd (+ its privsep child) and two listeners
    await lab.cleanup();
    expect((await runCommand(['ip', 'netns', 'list'])).stdout).not.toContain(lab.prefix);
    expect(pids.filter((pid) => isPidAlive(pid))).toEqual([]);
    expect(existsSync(lab.tempDir)).toBe(false);
  });
});
