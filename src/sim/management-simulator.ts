import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { AgentMessage, type AckMessage, type AppliedMessage, type HelloMessage, type ObservedMessage } from '../schema/protocol.js';
import { parseWith, type FieldError } from '../schema/validation.js';

/**
 * A stand-in for the CloudStack management server, for the lab and tests:
 * it accepts agents, pushes desired states and records everything agents
 * say. It speaks protocol v1 (docs/protocol.md) and trusts nothing it gets.
 */

/** How the simulator listens. */
export interface ManagementSimulatorOptions {
  /** Address to bind, e.g. 127.0.0.1 or ::1 (no brackets). */
  readonly host: string;
  /** 0 picks an ephemeral port; start() tells which. */
  readonly port: number;
  /** When set, an upgrade without `Authorization: Bearer <token>` gets HTTP 401. */
  readonly token?: string;
  /**
   * PEM certificate and key: serve wss instead of ws. With `clientCa`, every
   * agent must present a client certificate that chains to it (mutual TLS).
   */
  readonly tls?: { readonly cert: string; readonly key: string; readonly clientCa?: string };
  /** Largest frame accepted from an agent; default 4 MiB. */
  readonly maxMessageBytes?: number;
  /** Keep every event for events/waitForEvent; default true. Long-running CLIs turn it off. */
  readonly keepHistory?: boolean;
}

/** One thing that happened; `agent` numbers connections from 1 in accept order. */
export type SimulatorEvent =
  | { readonly event: 'connected'; readonly agent: number; readonly remoteAddress: string }
  | { readonly event: 'disconnected'; readonly agent: number; readonly code: number; readonly reason: string }
  | { readonly event: 'refused'; readonly remoteAddress: string; readonly status: number }
  | { readonly event: 'tls-refused'; readonly remoteAddress: string; readonly reason: string }
  | { readonly event: 'hello'; readonly agent: number; readonly message: HelloMessage }
  | { readonly event: 'ack'; readonly agent: number; readonly message: AckMessage }
  | { readonly event: 'applied'; readonly agent: number; readonly message: AppliedMessage }
  | { readonly event: 'observed'; readonly agent: number; readonly message: ObservedMessage }
  | { readonly event: 'invalid'; readonly agent: number; readonly errors: FieldError[] };

/** The desired state the simulator hands to every agent. */
export interface CurrentDesired {
  readonly generation: number;
  readonly spec: unknown;
}

interface Agent {
  readonly id: number;
  readonly ws: WebSocket;
  hasSaidHello: boolean;
}

/** A management-server simulator; see ManagementSimulatorOptions. */
export class ManagementSimulator {
  private readonly options: ManagementSimulatorOptions;
  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly agents = new Set<Agent>();
  private readonly listeners = new Set<(event: SimulatorEvent) => void>();
  private readonly history: SimulatorEvent[] = [];
  private nextAgentId = 1;
  private lastGeneration = 0;
  private desired: CurrentDesired | null = null;

  constructor(options: ManagementSimulatorOptions) {
    this.options = options;
    const tls = options.tls;
    const clientAuth = tls?.clientCa === undefined ? {} : { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true };
    this.server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key, ...clientAuth }) : createHttpServer();
    this.wss = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageBytes ?? 4 * 1024 * 1024 });
    this.server.on('request', (_request, response) => response.writeHead(426, { Connection: 'close' }).end());
    this.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => this.handleUpgrade(request, socket, head));
    this.server.on('tlsClientError', (error: Error, socket: Duplex) => {
      this.record({ event: 'tls-refused', remoteAddress: (socket as { remoteAddress?: string }).remoteAddress ?? '', reason: error.message });
      socket.destroy();
    });
    this.wss.on('connection', (ws, request) => this.handleConnection(ws, request));
  }

  /** Listens; resolves with the bound port. */
  start(): Promise<{ port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        const address = this.server.address();
        resolve({ port: typeof address === 'object' && address ? address.port : this.options.port });
      });
    });
  }

  /** Drops every agent and stops listening. */
  async stop(): Promise<void> {
    this.dropConnections();
    this.wss.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /**
   * Makes spec the current desired state and sends it to every agent that has
   * said hello. Returns the generation used: `generation`, or the last one + 1.
   */
  push(spec: unknown, generation?: number): number {
    const used = generation ?? this.lastGeneration + 1;
    this.lastGeneration = used;
    this.desired = { generation: used, spec };
    this.broadcast(JSON.stringify({ type: 'desired', generation: used, spec }));
    return used;
  }

  /** Asks every agent that has said hello to reconcile now; returns how many were asked. */
  requestReconcile(): number {
    return this.broadcast(JSON.stringify({ type: 'reconcile' }));
  }

  /** The desired state new agents get after their hello, if any was pushed. */
  get currentDesired(): CurrentDesired | null {
    return this.desired;
  }

  /** Open agent connections, helloed or not. */
  get connectionCount(): number {
    return this.agents.size;
  }

  /** Every event so far (empty when keepHistory is false). */
  get events(): readonly SimulatorEvent[] {
    return this.history;
  }

  /** Calls listener for every future event; returns the function that unsubscribes. */
  onEvent(listener: (event: SimulatorEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Resolves with the first event, at index fromIndex of the history or later,
   * that matches; rejects after timeoutMs. Needs keepHistory.
   */
  waitForEvent(predicate: (event: SimulatorEvent) => boolean, timeoutMs = 5000, fromIndex = 0): Promise<SimulatorEvent> {
    const seen = this.history.slice(fromIndex).find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        unsubscribe();
        reject(new Error(`no matching simulator event within ${timeoutMs} ms`));
      }, timeoutMs);
      const unsubscribe = this.onEvent((event) => {
        if (!predicate(event)) return;
        clearTimeout(timer);
        unsubscribe();
        resolve(event);
      });
    });
  }

  /** Test hook: destroys every agent's TCP connection without a close frame. */
  dropConnections(): void {
    for (const agent of this.agents) agent.ws.terminate();
  }

  /** Test hook: sends a close frame with code and reason to every agent. */
  closeConnections(code = 1001, reason = 'simulator closing'): void {
    for (const agent of this.agents) agent.ws.close(code, reason);
  }

  /** Test hook: stops reading from every agent, so pings go unanswered as from a dead peer. */
  freezeConnections(): void {
    for (const agent of this.agents) agent.ws.pause();
  }

  /** Test hook: sends a raw frame, protocol or not, to every open connection; returns how many. */
  sendRaw(data: string | Buffer, isBinary = false): number {
    let count = 0;
    for (const agent of this.agents) {
      if (agent.ws.readyState !== WebSocket.OPEN) continue;
      agent.ws.send(data, { binary: isBinary });
      count += 1;
    }
    return count;
  }

  private broadcast(text: string): number {
    let count = 0;
    for (const agent of this.agents) {
      if (!agent.hasSaidHello || agent.ws.readyState !== WebSocket.OPEN) continue;
      agent.ws.send(text);
      count += 1;
    }
    return count;
  }

  private handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const token = this.options.token;
    if (token !== undefined && !isBearer(request.headers.authorization, token)) {
      this.record({ event: 'refused', remoteAddress: request.socket.remoteAddress ?? '', status: 401 });
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => this.wss.emit('connection', ws, request));
  }

  private handleConnection(ws: WebSocket, request: IncomingMessage): void {
    const agent: Agent = { id: this.nextAgentId++, ws, hasSaidHello: false };
    this.agents.add(agent);
    ws.on('error', () => undefined);
    ws.on('message', (data, isBinary) => this.handleFrame(agent, data, isBinary));
    ws.on('close', (code, reason) => {
      this.agents.delete(agent);
      this.record({ event: 'disconnected', agent: agent.id, code, reason: reason.toString('utf8') });
    });
    this.record({ event: 'connected', agent: agent.id, remoteAddress: request.socket.remoteAddress ?? '' });
  }

  private handleFrame(agent: Agent, data: WebSocket.RawData, isBinary: boolean): void {
    const parsed = parseAgentFrame(data, isBinary);
    if (!parsed.ok) {
      this.record({ event: 'invalid', agent: agent.id, errors: parsed.errors });
      return;
    }
    const message = parsed.value;
    if (!agent.hasSaidHello && message.type !== 'hello') {
      this.record({ event: 'invalid', agent: agent.id, errors: [{ path: '$.type', message: 'the first frame must be hello' }] });
      return;
    }
    switch (message.type) {
      case 'hello':
        agent.hasSaidHello = true;
        this.record({ event: 'hello', agent: agent.id, message });
        if (this.desired && agent.ws.readyState === WebSocket.OPEN) {
          agent.ws.send(JSON.stringify({ type: 'desired', generation: this.desired.generation, spec: this.desired.spec }));
        }
        return;
      case 'ack':
        return this.record({ event: 'ack', agent: agent.id, message });
      case 'applied':
        return this.record({ event: 'applied', agent: agent.id, message });
      case 'observed':
        return this.record({ event: 'observed', agent: agent.id, message });
    }
  }

  private record(event: SimulatorEvent): void {
    if (this.options.keepHistory !== false) this.history.push(event);
    for (const listener of [...this.listeners]) listener(event);
  }
}

type ParsedFrame = { ok: true; value: AgentMessage } | { ok: false; errors: FieldError[] };

function parseAgentFrame(data: WebSocket.RawData, isBinary: boolean): ParsedFrame {
  if (isBinary) return { ok: false, errors: [{ path: '$', message: 'binary frames are not part of the protocol' }] };
  const buffer = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
  try {
    return parseWith(AgentMessage, JSON.parse(buffer.toString('utf8')));
  } catch (error) {
    return { ok: false, errors: [{ path: '$', message: `not JSON: ${error instanceof Error ? error.message : String(error)}` }] };
  }
}

/** Compares digests so the check takes the same time however much of the token matches. */
function isBearer(header: string | undefined, token: string): boolean {
  const presented = /^Bearer (.+)$/.exec(header ?? '')?.[1] ?? '';
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(presented), digest(token));
}
