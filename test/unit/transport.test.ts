import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { HelloMessage } from '../../src/schema/protocol.js';
import { ManagementSimulator, type SimulatorEvent } from '../../src/sim/management-simulator.js';
import {
  ManagementClient,
  type ManagementClientEvents,
  type ManagementClientOptions,
} from '../../src/transport/management-client.js';

type EventName = keyof ManagementClientEvents;

/** Records every event of a client, so a test can wait for one that may already have happened. */
class ClientLog {
  readonly events: { name: EventName; args: unknown[] }[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(client: ManagementClient) {
    client.on('message', (...args) => this.add('message', args));
    client.on('connected', (...args) => this.add('connected', args));
    client.on('disconnected', (...args) => this.add('disconnected', args));
    client.on('invalid', (...args) => this.add('invalid', args));
  }

  all<E extends EventName>(name: E): ManagementClientEvents[E][] {
    return this.events.filter((event) => event.name === name).map((event) => event.args as ManagementClientEvents[E]);
  }

  waitFor<E extends EventName>(
    name: E,
    predicate: (...args: ManagementClientEvents[E]) => boolean = () => true,
    { timeoutMs = 5000, from = 0 } = {},
  ): Promise<ManagementClientEvents[E]> {
    const find = () =>
      this.events
        .slice(from)
        .find((event) => event.name === name && predicate(...(event.args as ManagementClientEvents[E])))
        ?.args as ManagementClientEvents[E] | undefined;
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = find();
        if (!found) return;
        cleanup();
        resolve(found);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no client "${name}" event within ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  private add(name: EventName, args: unknown[]): void {
    this.events.push({ name, args });
    for (const waiter of [...this.waiters]) waiter();
  }
}

const hello = (): HelloMessage => ({
  type: 'hello',
  protocolVersion: 1,
  routerId: 'r-test',
  agentVersion: '0.0.0-test',
  capabilities: ['desired-v1'],
  lastAppliedGeneration: null,
  lastAcceptedGeneration: null,
});

const spec = { schemaVersion: 1, note: 'opaque to the transport' };

let simulators: ManagementSimulator[] = [];
let clients: ManagementClient[] = [];
let rawServers: WebSocketServer[] = [];

async function startSimulator(options: Partial<ConstructorParameters<typeof ManagementSimulator>[0]> = {}) {
  const simulator = new ManagementSimulator({ host: '127.0.0.1', port: 0, ...options });
  simulators.push(simulator);
  const { port } = await simulator.start();
  return { simulator, port, url: `${options.tls ? 'wss' : 'ws'}://127.0.0.1:${port}` };
}

function startClient(urls: string[], options: Partial<ManagementClientOptions> = {}) {
  const client = new ManagementClient({
    urls,
    heartbeatMs: 1000,
    maxMessageBytes: 64 * 1024,
    backoffInitialMs: 20,
    backoffMaxMs: 200,
    hello,
    ...options,
  });
  clients.push(client);
  const log = new ClientLog(client);
  client.start();
  return { client, log };
}

/** A loopback port with nothing listening: bound, then released. */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const isHello = (event: SimulatorEvent) => event.event === 'hello';

afterEach(async () => {
  await Promise.all(clients.map((client) => client.stop()));
  await Promise.all(simulators.map((simulator) => simulator.stop()));
  for (const server of rawServers) for (const socket of server.clients) socket.terminate();
  await Promise.all(rawServers.map((server) => new Promise((resolve) => server.close(resolve))));
  clients = [];
  simulators = [];
  rawServers = [];
});

describe('ManagementClient with the simulator', () => {
  it('sends hello as the first frame of every connection', async () => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    rawServers.push(server);
    await new Promise((resolve) => server.once('listening', resolve));
    const firstFrame = new Promise<string>((resolve) =>
      server.once('connection', (socket) => socket.once('message', (data) => resolve(String(data)))),
    );
    startClient([`ws://127.0.0.1:${(server.address() as AddressInfo).port}`]);
    const parsed = HelloMessage.safeParse(JSON.parse(await firstFrame));
    expect(parsed.success).toBe(true);

    const { simulator, url } = await startSimulator();
    const { log } = startClient([url]);
    await simulator.waitForEvent(isHello);
    await log.waitFor('connected');
    expect(simulator.events.map((event) => event.event)).toEqual(['connected', 'hello']);
  });

  it('delivers a pushed desired state, and the current one to a client that connects later', async () => {
    const { simulator, url } = await startSimulator();
    const first = startClient([url]);
    await simulator.waitForEvent(isHello);
    const generation = simulator.push(spec);
    const [message] = await first.log.waitFor('message');
    expect(message).toEqual({ type: 'desired', generation, spec });

    simulator.push({ ...spec, note: 'seven' }, 7);
    const second = startClient([url]);
    const [late] = await second.log.waitFor('message');
    expect(late).toEqual({ type: 'desired', generation: 7, spec: { ...spec, note: 'seven' } });
    expect(second.log.all('message')).toHaveLength(1);
  });

  it("hands over with a message the texts of its spec's ACL lists, from the frame's own bytes", async () => {
    const { simulator, url } = await startSimulator();
    const { log } = startClient([url]);
    await simulator.waitForEvent(isHello);
    const lists = [{ id: 'acl-web', items: [{ number: 10, action: 'allow', direction: 'ingress', protocol: 'tcp' }] }, { id: 'short' }];
    simulator.push({ ...spec, aclLists: lists });
    const [message, sourceOf] = await log.waitFor('message');
    const received = message.type === 'desired' ? (message.spec as { aclLists: object[] }).aclLists : [];
    // A list shorter than 64 bytes is printed by the schema itself.
    expect(received.map((list) => sourceOf(list))).toEqual([JSON.stringify(lists[0]), undefined]);
  });

  it('uses the second URL when the first is down', async () => {
    const deadUrl = `ws://127.0.0.1:${await unusedPort()}`;
    const { simulator, url } = await startSimulator();
    const { log } = startClient([deadUrl, url]);
    const [connectedUrl] = await log.waitFor('connected');
    expect(connectedUrl).toBe(url);
    const [failure] = log.all('disconnected');
    expect(failure?.[0]).toMatchObject({ url: deadUrl, kind: 'error', wasConnected: false });
    await simulator.waitForEvent(isHello);
  });

  it('reconnects and says hello again after the server restarts', async () => {
    const { simulator, port, url } = await startSimulator();
    const { log } = startClient([url]);
    await simulator.waitForEvent(isHello);
    await simulator.stop();
    await log.waitFor('disconnected', (disconnect) => disconnect.wasConnected);
    const restarted = (await startSimulator({ port })).simulator;
    const event = await restarted.waitForEvent(isHello);
    expect(event).toMatchObject({ event: 'hello', message: hello() });
    expect(log.all('connected')).toHaveLength(2);
  });

  it('connects with the right token; with a wrong one is refused and backs off', async () => {
    const { simulator, url } = await startSimulator({ token: 'right-token' });
    const good = startClient([url], { token: 'right-token' });
    await good.log.waitFor('connected');

    const windowMs = 1500;
    // The longest jitter every time: 50, 100, 200, 400, 400 ... ms between attempts.
    const bad = startClient([url], { token: 'wrong-token', backoffInitialMs: 50, backoffMaxMs: 400, random: () => 0.999 });
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const refusals = bad.log.all('disconnected').map(([disconnect]) => disconnect);
    expect(refusals.length).toBeGreaterThanOrEqual(3);
    expect(refusals.length).toBeLessThanOrEqual(8);
    for (const refusal of refusals) expect(refusal).toMatchObject({ kind: 'refused', code: 401, wasConnected: false });
    expect(bad.log.all('connected')).toHaveLength(0);
    // One more attempt may be in flight: refused by the server, not yet seen by the client.
    const refusedByServer = simulator.events.filter((event) => event.event === 'refused').length;
    expect(refusedByServer - refusals.length).toBeGreaterThanOrEqual(0);
    expect(refusedByServer - refusals.length).toBeLessThanOrEqual(1);
  });

  it('closes on an oversized frame, reports it and reconnects', async () => {
    const { simulator, url } = await startSimulator();
    const { client, log } = startClient([url], { maxMessageBytes: 1024 });
    await simulator.waitForEvent(isHello);
    simulator.sendRaw(JSON.stringify({ type: 'desired', generation: 1, spec: { padding: 'x'.repeat(4096) } }));
    const [disconnect] = await log.waitFor('disconnected');
    expect(disconnect).toMatchObject({ kind: 'message-too-large', code: 1009, wasConnected: true });
    await log.waitFor('connected', () => true, { from: log.events.length });
    expect(client.isConnected).toBe(true);
    expect(log.all('message')).toHaveLength(0);
  });

  it('reports invalid frames and keeps the connection usable', async () => {
    const { simulator, url } = await startSimulator();
    const { client, log } = startClient([url]);
    await simulator.waitForEvent(isHello);
    simulator.sendRaw('{not json');
    simulator.sendRaw(JSON.stringify({ type: 'teleport', generation: 1 }));
    simulator.sendRaw(JSON.stringify({ type: 'desired', generation: 0, spec }));
    simulator.sendRaw(Buffer.from('binary'), true);
    simulator.push(spec);
    await log.waitFor('message');
    const invalid = log.all('invalid').map(([errors]) => errors);
    expect(invalid).toHaveLength(4);
    expect(invalid[0]?.[0]?.message).toMatch(/^not JSON/);
    expect(invalid[1]?.[0]?.path).toBe('$.type');
    expect(invalid[2]?.[0]?.path).toBe('$.generation');
    expect(log.all('disconnected')).toHaveLength(0);
    expect(client.isConnected).toBe(true);
    expect(client.send({ type: 'ack', generation: 1, status: 'accepted', errors: [] })).toBe(true);
    await simulator.waitForEvent((event) => event.event === 'ack');
  });

  it('drops a peer that stops answering pings within two heartbeats', async () => {
    const heartbeatMs = 100;
    const { simulator, url } = await startSimulator();
    const { client, log } = startClient([url], { heartbeatMs });
    await simulator.waitForEvent(isHello);
    const frozenAt = Date.now();
    simulator.freezeConnections();
    const [disconnect] = await log.waitFor('disconnected', () => true, { timeoutMs: 2000 });
    expect(disconnect).toMatchObject({ kind: 'heartbeat-timeout', wasConnected: true });
    expect(Date.now() - frozenAt).toBeLessThan(2 * heartbeatMs + 400);
    expect(client.isConnected).toBe(false);
  });

  it('survives a malformed URL and an unresolvable host, and logs no token', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'trace' }, { write: (line: string) => lines.push(line) });
    const { log } = startClient(['ws://[::1', 'ws://vr6-test.invalid:1'], { token: 'secret-token', logger });
    await log.waitFor('disconnected', (disconnect) => disconnect.url.includes('invalid'));
    await log.waitFor('disconnected', (disconnect) => disconnect.url.startsWith('ws://[::1'), { from: 1 });
    for (const [disconnect] of log.all('disconnected')) expect(disconnect).toMatchObject({ kind: 'error', wasConnected: false });
    expect(lines.some((line) => line.includes('"component":"transport"'))).toBe(true);
    expect(lines.join('')).not.toContain('secret-token');
  });

  it('send() is false while not connected', async () => {
    const { client } = startClient([`ws://127.0.0.1:${await unusedPort()}`]);
    expect(client.isConnected).toBe(false);
    expect(client.send({ type: 'ack', generation: 1, status: 'accepted', errors: [] })).toBe(false);
  });
});

describe('ManagementClient over wss', () => {
  let dir = '';
  const pem = { cert: '', key: '', otherCert: '', otherKey: '' };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vr6-transport-'));
    const makeCert = (name: string) =>
      execFileSync(
        'openssl',
        ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1']
          .concat(['-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'])
          .concat(['-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`)]),
        { stdio: 'ignore', timeout: 10_000 },
      );
    makeCert('server');
    makeCert('other');
    pem.cert = readFileSync(join(dir, 'server.crt'), 'utf8');
    pem.key = readFileSync(join(dir, 'server.key'), 'utf8');
    pem.otherCert = readFileSync(join(dir, 'other.crt'), 'utf8');
    pem.otherKey = readFileSync(join(dir, 'other.key'), 'utf8');
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('connects when the server certificate chains to the given CA, by IP or by name', async () => {
    const tls = { cert: pem.cert, key: pem.key };
    const { simulator, url } = await startSimulator({ tls, token: 't' });
    startClient([url], { ca: pem.cert, token: 't' });
    await simulator.waitForEvent(isHello);
    // Node 18 connects to the first address only (no happy eyeballs): listen where localhost points.
    const { address } = await lookup('localhost');
    const named = await startSimulator({ tls, host: address });
    startClient([`wss://localhost:${named.port}`], { ca: pem.cert });
    await named.simulator.waitForEvent(isHello);
  });

  it('refuses a server signed by another CA, or named otherwise', async () => {
    const { simulator, url } = await startSimulator({ tls: { cert: pem.cert, key: pem.key } });
    const wrongCa = startClient([url], { ca: pem.otherCert });
    const [disconnect] = await wrongCa.log.waitFor('disconnected');
    expect(disconnect).toMatchObject({ kind: 'error', wasConnected: false });
    expect(disconnect.detail).toMatch(/certificate/i);

    const ipv6 = new ManagementSimulator({ host: '::1', port: 0, tls: { cert: pem.cert, key: pem.key } });
    simulators.push(ipv6);
    const { port } = await ipv6.start();
    const wrongName = startClient([`wss://[::1]:${port}`], { ca: pem.cert });
    const [mismatch] = await wrongName.log.waitFor('disconnected');
    expect(mismatch).toMatchObject({ kind: 'error', wasConnected: false });
    expect(mismatch.detail).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID/);
    expect([...simulator.events, ...ipv6.events].filter(isHello)).toHaveLength(0);
  });

  it('with mutual TLS, connects only with a client certificate the server trusts', async () => {
    // "other" is the client's self-signed certificate; the server trusts it as the client CA.
    const tls = { cert: pem.cert, key: pem.key, clientCa: pem.otherCert };
    const { simulator, url } = await startSimulator({ tls });
    const anonymous = startClient([url], { ca: pem.cert });
    const [refused] = await anonymous.log.waitFor('disconnected');
    expect(refused).toMatchObject({ wasConnected: false });
    const untrusted = startClient([url], { ca: pem.cert, clientCertificate: { cert: pem.cert, key: pem.key } });
    await untrusted.log.waitFor('disconnected');
    expect(simulator.events.filter(isHello)).toHaveLength(0);
    expect(simulator.events.filter((event) => event.event === 'tls-refused').length).toBeGreaterThanOrEqual(2);

    const trusted = startClient([url], { ca: pem.cert, clientCertificate: { cert: pem.otherCert, key: pem.otherKey } });
    await trusted.log.waitFor('connected');
    await simulator.waitForEvent(isHello);
  });
});
