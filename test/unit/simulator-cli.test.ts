import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ServerMessage } from '../../src/schema/protocol.js';
import { ManagementClient } from '../../src/transport/management-client.js';

// The simulator runs on the VR's Node when it is installed, as in the lab.
const NODE18 = join(process.cwd(), 'node_modules/node18/bin/node');
const NODE = existsSync(NODE18) ? NODE18 : process.execPath;

let dir = '';
let bundle = '';
let children: ChildProcess[] = [];
let clients: ManagementClient[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vr6-sim-cli-'));
  // The bundle exactly as the project builds it (build.mjs), so the test cannot drift from the shipped options.
  execFileSync(process.execPath, ['build.mjs'], { stdio: 'ignore' });
  bundle = join(process.cwd(), 'dist', 'vr6-sim.js');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

afterEach(async () => {
  await Promise.all(clients.map((client) => client.stop()));
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  clients = [];
  children = [];
});

type Line = Record<string, unknown> & { event: string };

/** Runs the bundled simulator and collects its JSON lines. */
function runSimulator(args: string[]) {
  const child = spawn(NODE, [bundle, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  const lines: Line[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout! }).on('line', (text) => {
    lines.push(JSON.parse(text) as Line);
    for (const waiter of [...waiters]) waiter();
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += String(chunk)));
  const waitForLine = (predicate: (line: Line) => boolean, timeoutMs = 5000) =>
    new Promise<Line>((resolve, reject) => {
      const check = () => {
        const found = lines.find(predicate);
        if (!found) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(found);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no matching line within ${timeoutMs} ms; got ${JSON.stringify(lines)}; stderr ${stderr}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const send = (command: string) => child.stdin!.write(`${command}\n`);
  return { child, lines, waitForLine, exited, send };
}

function connect(url: string, token?: string) {
  const messages: ServerMessage[] = [];
  const waiters = new Set<() => void>();
  const client = new ManagementClient({
    urls: [url],
    heartbeatMs: 1000,
    maxMessageBytes: 64 * 1024,
    backoffInitialMs: 20,
    backoffMaxMs: 200,
    ...(token === undefined ? {} : { token }),
    hello: () => ({
      type: 'hello',
      protocolVersion: 1,
      routerId: 'r-cli',
      agentVersion: 'test',
      capabilities: [],
      lastAppliedGeneration: null,
      lastAcceptedGeneration: null,
    }),
  });
  clients.push(client);
  client.on('message', (message) => {
    messages.push(message);
    for (const waiter of [...waiters]) waiter();
  });
  client.start();
  const waitForMessage = (predicate: (message: ServerMessage) => boolean, timeoutMs = 5000) =>
    new Promise<ServerMessage>((resolve, reject) => {
      const check = () => {
        const found = messages.find(predicate);
        if (!found) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(found);
      };
      const timer = setTimeout(() => reject(new Error(`no matching message within ${timeoutMs} ms`)), timeoutMs);
      waiters.add(check);
      check();
    });
  return { client, messages, waitForMessage };
}

const isDesired = (generation: number) => (message: ServerMessage) =>
  message.type === 'desired' && message.generation === generation;

describe('vr6-sim', () => {
  it('listens on [::1], greets agents with --desired, and pushes on command and SIGHUP', async () => {
    const tokenFile = join(dir, 'token');
    const desiredFile = join(dir, 'desired.json');
    writeFileSync(tokenFile, 'cli-token\n');
    writeFileSync(desiredFile, JSON.stringify({ from: 'file' }));
    const sim = runSimulator(['--listen', '[::1]:0', '--token-file', tokenFile, '--desired', desiredFile, '--generation', '5']);
    const listening = await sim.waitForLine((line) => line.event === 'listening');
    expect(listening).toMatchObject({ host: '::1', port: expect.any(Number) });

    const agent = connect(`ws://[::1]:${String(listening.port)}`, 'cli-token');
    const hello = await sim.waitForLine((line) => line.event === 'hello');
    expect(hello).toMatchObject({ agent: 1, message: { type: 'hello', routerId: 'r-cli' } });
    expect(await agent.waitForMessage(isDesired(5))).toEqual({ type: 'desired', generation: 5, spec: { from: 'file' } });

    sim.send('push-json {"from": "stdin"}');
    expect(await agent.waitForMessage(isDesired(6))).toMatchObject({ spec: { from: 'stdin' } });
    sim.send('reconcile');
    await agent.waitForMessage((message) => message.type === 'reconcile');

    writeFileSync(desiredFile, JSON.stringify({ from: 'file, again' }));
    sim.child.kill('SIGHUP');
    expect(await agent.waitForMessage(isDesired(7))).toMatchObject({ spec: { from: 'file, again' } });

    agent.client.send({ type: 'ack', generation: 7, status: 'accepted', errors: [] });
    await sim.waitForLine((line) => line.event === 'ack');
    sim.send('push-json {broken');
    await sim.waitForLine((line) => line.event === 'error');
    sim.send('quit');
    expect(await sim.exited).toBe(0);
  });

  it('refuses a wrong token, ignores the end of stdin and exits on SIGTERM', async () => {
    const tokenFile = join(dir, 'token-2');
    writeFileSync(tokenFile, 'right');
    const sim = runSimulator(['--listen', '127.0.0.1:0', '--token-file', tokenFile]);
    const { port } = await sim.waitForLine((line) => line.event === 'listening');
    sim.child.stdin!.end();

    connect(`ws://127.0.0.1:${String(port)}`, 'wrong');
    await sim.waitForLine((line) => line.event === 'refused');
    connect(`ws://127.0.0.1:${String(port)}`, 'right');
    await sim.waitForLine((line) => line.event === 'hello');

    sim.child.kill('SIGTERM');
    expect(await sim.exited).toBe(0);
  });

  it('exits non-zero with a usage message on a bad --listen', async () => {
    const sim = runSimulator(['--listen', 'fd00::1:8765']);
    expect(await sim.exited).toBe(1);
  });
});
