import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { build } from 'esbuild';
import fc from 'fast-check';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { Agent } from '../../src/daemon/agent.js';
import { MemoryHost } from '../support/memory-host.js';
import { deriveDeprecatedPrefixes } from '../../src/daemon/deprecations.js';
import { renderFrrConf } from '../../src/render/frr-conf.js';
import { renderKeepalivedConf } from '../../src/render/keepalived-conf.js';
import { keepalivedFilesOf } from '../../src/model/file-layout.js';
import { renderRadvdConf } from '../../src/render/radvd-conf.js';
import { renderRuleset } from '../../src/render/ruleset.js';
import { renderRulesetDocument } from '../../src/render/ruleset-document.js';
import { DesiredState } from '../../src/schema/desired-state.js';
import type { AckMessage, AgentMessage } from '../../src/schema/protocol.js';
import { parseServerFrame } from '../../src/transport/management-client.js';
import { canRunLab } from '../lab/lab-guard.js';
import { agentConfigIn } from '../support/agent-config.js';
import { INTERFACE_POOL, redundancySection, serverFrame, type ServerFrame } from '../support/hostile-arbitraries.js';
import { isolatedInput } from '../support/states.js';
import { freshSeed, readSeed } from '../support/seed.js';
import { reportFigures, trialCount } from './campaign.js';
import { checkRenderedConfigs, type RenderedConfigs } from './config-checks.js';

/**
 * Campaign 4, hostile input (docs/reliability.md §4). Frames as a hostile
 * management server may send them go through the agent's real receiving
 * path (the transport's frame parser, then Agent.handleMessage on the
 * in-memory host). Every frame gets its verdict without a crash; every
 * refused one leaves the host and the persisted state as they were; every
 * accepted state renders an nft document, a radvd.conf, an frr.conf and
 * (for one of a pair) a keepalived.conf that the real nft -c, radvd -c,
 * vtysh -C and keepalived -t accept. Then oversized and deeply
 * nested frames reach a real ManagementClient in a process of its own,
 * whose memory is measured.
 *
 *   make soak                                    # CI: 1000 frames
 *   SOAK_TRIALS=10000 SEED=<seed> npx vitest run --config vitest.soak.config.ts test/soak/hostile-input.soak.ts
 *                                                # the documented run; the seed replays one
 */
const TRIALS = trialCount(1000);
const SEED = readSeed(freshSeed);
const STATE_FILE = '/vr/state/desired.json';
const work = mkdtempSync(join(tmpdir(), 'vr6-hostile-'));

afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Campaign {
  readonly host: MemoryHost;
  readonly agent: Agent;
  readonly sent: AgentMessage[];
  readonly errorLogs: string[];
}

async function startCampaignAgent(): Promise<Campaign> {
  const host = new MemoryHost(INTERFACE_POOL);
  const sent: AgentMessage[] = [];
  const errorLogs: string[] = [];
  // Every error the agent logs is a failure it swallowed: a crash in disguise.
  const log = pino({ level: 'error' }, { write: (line: string) => void errorLogs.push(line) });
  // No deprecation windows in the agent: 10,000 renumberings would pile them up (the renders below cover them).
  const config = agentConfigIn('/vr', { deprecationWindowSeconds: 0 });
  const agent = new Agent({ host, config, log, version: 'soak', send: (message) => (sent.push(message), true) });
  await agent.start();
  return { host, agent, sent, errorLogs };
}

function frameText(frame: ServerFrame, acceptedGeneration: number): string {
  if (frame.kind === 'text') return frame.text;
  const generation = { next: acceptedGeneration + 1, same: Math.max(1, acceptedGeneration), stale: Math.max(1, acceptedGeneration - 1) }[frame.mode];
  return JSON.stringify({ type: 'desired', generation, spec: frame.spec });
}

type Verdict = 'invalid' | 'reconcile' | AckMessage['status'];

/** Pushes one frame; returns its verdict, and adds to `problems` whatever broke a rule. */
async function pushFrame(c: Campaign, frame: ServerFrame, problems: string[]): Promise<{ verdict: Verdict; spec?: unknown }> {
  const acceptedBefore = c.agent.snapshot().accepted;
  const text = frameText(frame, acceptedBefore?.generation ?? 0);
  const before = { writes: c.host.writes.length, persisted: c.host.files.get(STATE_FILE), accepted: acceptedBefore };
  const expectUntouched = (verdict: string) => {
    const after = { writes: c.host.writes.length, persisted: c.host.files.get(STATE_FILE), accepted: c.agent.snapshot().accepted };
    if (after.writes !== before.writes || after.persisted !== before.persisted || after.accepted !== before.accepted) {
      problems.push(`${verdict} frame changed the host: ${c.host.writes.slice(before.writes).join('; ')}\n${text.slice(0, 2000)}`);
    }
  };
  const parsed = parseServerFrame(Buffer.from(text, 'utf8'), false);
  if (!parsed.ok) {
    if (parsed.errors.length === 0) problems.push(`invalid frame without an error: ${text.slice(0, 200)}`);
    expectUntouched('invalid');
    return { verdict: 'invalid' };
  }
  const ackCount = c.sent.length;
  await c.agent.handleMessage(parsed.value, parsed.sourceOf);
  await c.agent.idle();
  if (parsed.value.type === 'reconcile') return { verdict: 'reconcile' };
  const acks = c.sent.slice(ackCount).filter((m): m is AckMessage => m.type === 'ack');
  const ack = acks[0];
  if (acks.length !== 1 || ack?.generation !== parsed.value.generation) {
    problems.push(`expected one ack for generation ${parsed.value.generation}, got ${JSON.stringify(acks)}\n${text.slice(0, 2000)}`);
    return { verdict: 'rejected' };
  }
  if (ack.status === 'accepted') return { verdict: 'accepted', spec: parsed.value.spec };
  if (ack.status === 'rejected' && (ack.errors.length === 0 || ack.errors.some((e) => !/^\$(\.|$)/.test(e.path)))) {
    problems.push(`rejected without JSON paths: ${JSON.stringify(ack.errors)}`);
  }
  expectUntouched(ack.status);
  return { verdict: ack.status };
}

/** What the agent would render for a state, under both RA backends, as the tools read it. */
function addRenderedConfigs(configs: RenderedConfigs, state: DesiredState, previous: DesiredState | null): void {
  const deprecated = deriveDeprecatedPrefixes(previous, state, [], 0, 7200);
  configs.nft.add(JSON.stringify(renderRulesetDocument(renderRuleset(state, deprecated))));
  const radvd = renderRadvdConf({ ...state, raBackend: 'radvd' }, deprecated);
  if (radvd !== null) configs.radvd.add(radvd);
  configs.vtysh.add(renderFrrConf({ ...state, raBackend: 'frr' }, deprecated)!.text);
  const keepalived = renderKeepalivedConf(state, keepalivedFilesOf(work));
  if (keepalived !== null) configs.keepalived.add(keepalived.text);
}

const runsLab = canRunLab(['nft', 'radvd', 'vtysh', 'keepalived', 'ip', 'unshare']);

(runsLab ? describe : describe.skip)('hostile input (campaign 4)', () => {
  it(`fuzzes the protocol and the desired state (${TRIALS} frames, SEED=${SEED})`, async () => {
    console.log(`hostile-input: SEED=${SEED} SOAK_TRIALS=${TRIALS}`);
    const startedAt = Date.now();
    let unhandled = 0;
    const onUnhandled = () => void unhandled++;
    process.on('unhandledRejection', onUnhandled);
    const c = await startCampaignAgent();
    const counts = new Map<Verdict, number>();
    const problems: string[] = [];
    const configs: RenderedConfigs = { nft: new Set(), radvd: new Set(), vtysh: new Set(), keepalived: new Set() };
    let previous: DesiredState | null = null;
    let previousPair: DesiredState | null = null;
    // Each accepted state also as one VR of a pair, rendered for the tools but not pushed: the in-memory host runs no keepalived.
    const sections = fc.sample(redundancySection, { numRuns: TRIALS, seed: SEED });
    const pairVariants = { accepted: 0, refused: 0 };
    for (const [i, frame] of fc.sample(serverFrame, { numRuns: TRIALS, seed: SEED }).entries()) {
      const { verdict, spec } = await pushFrame(c, frame, problems);
      counts.set(verdict, (counts.get(verdict) ?? 0) + 1);
      if (verdict !== 'accepted') continue;
      const state = DesiredState.parse(spec);
      addRenderedConfigs(configs, state, previous);
      previous = state;
      const pair = DesiredState.safeParse({ ...(spec as object), redundancy: sections[i] });
      if (!pair.success) {
        pairVariants.refused++;
        if (process.env.SOAK_PAIR_REFUSALS) console.log(pair.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '));
        if (pair.error.issues.some((issue) => issue.path.length === 0)) problems.push(`pair variant refused without a path: ${pair.error.message}`);
        continue;
      }
      pairVariants.accepted++;
      addRenderedConfigs(configs, pair.data, previousPair);
      previousPair = pair.data;
    }
    c.agent.stop();
    const checked = checkRenderedConfigs(configs, work);
    process.off('unhandledRejection', onUnhandled);
    const refusals = checked.refusals.map((r) => `${r.tool} refused:\n${r.output}\n${r.config.slice(0, 3000)}`);
    const figures = {
      frames: TRIALS,
      accepted: counts.get('accepted') ?? 0,
      rejected: counts.get('rejected') ?? 0,
      'stale/duplicate': (counts.get('stale') ?? 0) + (counts.get('duplicate') ?? 0),
      'invalid frames': counts.get('invalid') ?? 0,
      reconciles: counts.get('reconcile') ?? 0,
      'pair variants accepted/refused': `${pairVariants.accepted}/${pairVariants.refused}`,
      'configs checked (nft/radvd/vtysh/keepalived)': `${configs.nft.size}/${configs.radvd.size}/${configs.vtysh.size}/${configs.keepalived.size}`,
      'tool runs': checked.runs,
      'refused by a tool': checked.refusals.length,
      'rule breaks': problems.length,
      'swallowed errors': c.errorLogs.length,
      'unhandled rejections': unhandled,
    };
    reportFigures('hostile-input', figures, `seed ${SEED}, ${Math.round((Date.now() - startedAt) / 1000)} s`);
    expect(problems.slice(0, 5)).toEqual([]);
    expect(refusals.slice(0, 3)).toEqual([]);
    expect(c.errorLogs.slice(0, 3)).toEqual([]);
    expect(unhandled).toBe(0);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // A campaign whose states are all refused would prove nothing about rendering.
    expect(figures.accepted).toBeGreaterThan(TRIALS / 5);
  }, 60 * 60_000);

  it('refuses an oversized frame and deeply nested JSON without a memory blow-up', async () => {
    await oversizedAndDeep();
  }, 120_000);
});

const MAX_MESSAGE_BYTES = 4 * 1024 * 1024; // the agent config's default
const DEPTH = 100_000;

interface ProbeEvent {
  readonly event: string;
  readonly [key: string]: unknown;
}

/** Starts the probe (transport-probe.ts, bundled, on Node 18) against a local websocket server. */
async function startProbe() {
  const bundle = join(work, 'probe.cjs');
  await build({ entryPoints: ['test/soak/transport-probe.ts'], bundle: true, platform: 'node', target: 'node18', format: 'cjs', outfile: bundle, logLevel: 'warning' });
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((done) => server.once('listening', () => done()));
  const port = (server.address() as AddressInfo).port;
  const child = spawn(resolve('node_modules/.bin/node'), [bundle, `ws://127.0.0.1:${port}`, String(MAX_MESSAGE_BYTES)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
  const inbox: ProbeEvent[] = [];
  let wake: () => void = () => {};
  const push = (event: ProbeEvent) => (inbox.push(event), wake());
  createInterface({ input: child.stdout }).on('line', (line) => push(JSON.parse(line) as ProbeEvent));
  server.on('connection', (ws) => {
    push({ event: 'server-connection', ws });
    ws.on('message', (data) => push({ event: 'server-received', message: JSON.parse(data.toString()) }));
    ws.on('close', (code) => push({ event: 'server-close', code }));
  });
  /** The first unseen event that matches, within a deadline. */
  const next = async (match: (e: ProbeEvent) => boolean, what: string, timeoutMs = 20_000): Promise<ProbeEvent> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = inbox.findIndex(match);
      if (index >= 0) return inbox.splice(0, index + 1)[index]!;
      if (Date.now() > deadline) throw new Error(`probe: no ${what} within ${timeoutMs} ms; stderr: ${stderr}`);
      await new Promise<void>((done) => {
        wake = done;
        setTimeout(done, 100);
      });
    }
  };
  const close = () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    server.close();
  };
  return { child, next, close, stderr: () => stderr };
}

const ackOf = (generation: number) => (e: ProbeEvent) =>
  e.event === 'server-received' && (e.message as AgentMessage).type === 'ack' && (e.message as AckMessage).generation === generation;

async function oversizedAndDeep(): Promise<void> {
  const probe = await startProbe();
  try {
    await probe.next((e) => e.event === 'ready', 'ready');
    let ws = (await probe.next((e) => e.event === 'server-connection', 'connection')).ws as WebSocket;
    ws.send(JSON.stringify({ type: 'desired', generation: 1, spec: isolatedInput() }));
    expect((await probe.next(ackOf(1), 'ack 1')).message).toMatchObject({ status: 'accepted' });

    // One byte over the limit: refused from the frame header (1009), never buffered whole.
    const head = '{"type":"desired","generation":2,"spec":{"pad":"';
    ws.send(`${head}${'x'.repeat(MAX_MESSAGE_BYTES + 1 - head.length - 3)}"}}`);
    expect(await probe.next((e) => e.event === 'disconnected', 'disconnect')).toMatchObject({ kind: 'message-too-large', code: 1009 });
    ws = (await probe.next((e) => e.event === 'server-connection', 'reconnection')).ws as WebSocket;

    const nested = (open: string, leaf: string, close: string) => `${open.repeat(DEPTH)}${leaf}${close.repeat(DEPTH)}`;
    ws.send(`{"type":"desired","generation":2,"spec":${nested('[', '', ']')}}`);
    expect((await probe.next(ackOf(2), 'ack 2')).message).toMatchObject({ status: 'rejected', errors: [{ path: '$.spec' }] });
    // The same generation as the accepted one: comparing the two specs must not overflow the stack.
    ws.send(`{"type":"desired","generation":1,"spec":${nested('{"a":', '1', '}')}}`);
    expect((await probe.next(ackOf(1), 'ack 1 again')).message).toMatchObject({ status: 'rejected', errors: [{ path: '$.generation' }] });
    ws.send(`{"type":"desired","generation":3,"spec":{"schemaVersion":1,"router":${nested('{"a":', '1', '}')}}}`);
    expect((await probe.next(ackOf(3), 'ack 3')).message).toMatchObject({ status: 'rejected' });
    ws.send(nested('[', '', ']'));
    expect(await probe.next((e) => e.event === 'invalid', 'invalid frame')).toMatchObject({ errors: [{ path: '$' }] });

    probe.child.stdin.write('report\n');
    const report = await probe.next((e) => e.event === 'report', 'report');
    const mib = (bytes: unknown) => Math.round(((bytes as number) / 2 ** 20) * 10) / 10;
    const rssGrowth = mib((report.maxRssBytes as number) - (report.baselineRss as number));
    const heapGrowth = mib((report.peakHeap as number) - (report.baselineHeap as number));
    reportFigures('hostile-input/limits', {
      'MiB frame limit': mib(MAX_MESSAGE_BYTES),
      'oversized refused (1009)': 1,
      'deep frames refused': 4,
      'MiB baseline RSS': mib(report.baselineRss),
      'MiB peak RSS': mib(report.maxRssBytes),
      'MiB peak RSS growth': rssGrowth,
      'MiB peak heap growth': heapGrowth,
    }, `nesting depth ${DEPTH}, agent on Node 18 in its own process`);
    expect(probe.stderr()).toBe('');
    // A blow-up would buffer the oversized frame, or grow with the depth; 64 MiB over the
    // idle agent leaves room for V8's young generation and one parse of the deep frames.
    expect(rssGrowth).toBeLessThan(64);
  } finally {
    probe.close();
  }
}
