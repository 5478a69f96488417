import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import type { AgentMessage, HelloMessage } from '../../src/schema/protocol.js';

/**
 * A management server that misbehaves on purpose, for the management-faults
 * campaign: it listens on a unix socket (no network outside the test), speaks
 * protocol v1 when asked to, and can cut a frame in half, hang up before the
 * ack, restart with an older generation, repeat or reorder generations,
 * answer slowly, ignore hello, or play dead. Test code only: it trusts what
 * the agent sends.
 */

/** One desired state as the server holds it. */
export interface ServedDesired {
  readonly generation: number;
  readonly spec: unknown;
}

/** An agent message the server received, with the connection it came on (numbered from 1). */
export interface Received {
  readonly connection: number;
  readonly message: AgentMessage;
}

interface Connection {
  readonly id: number;
  readonly ws: WebSocket;
  readonly socket: Socket;
  hello: HelloMessage | null;
}

/** The misbehaving management server; see the file comment. */
export class FaultServer {
  /** What the server hands out after each hello (unless it ignores hellos). */
  current: ServedDesired | null = null;
  /** false: hellos go unanswered (the connection stays up and pongs). */
  isAnsweringHello = true;
  /** Delay before the answer to a hello, and before the 101 of an upgrade. */
  helloDelayMs = 0;
  upgradeDelayMs = 0;
  readonly received: Received[] = [];
  private readonly connections = new Set<Connection>();
  private readonly wss = new WebSocketServer({ noServer: true });
  private server: Server | null = null;
  private nextId = 1;

  constructor(private readonly socketPath: string) {}

  /** Listens on the unix socket. */
  async start(): Promise<void> {
    const server = createServer((_request, response) => response.writeHead(426).end());
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => socket.destroy());
      setTimeout(() => this.wss.handleUpgrade(request, socket, head, (ws) => this.accept(ws, socket as Socket)), this.upgradeDelayMs);
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(this.socketPath, () => resolve()));
    this.server = server;
  }

  /** Drops every connection and stops listening (the unix socket file goes too). */
  async stop(): Promise<void> {
    this.dropAll();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** A crash and restart of the server: connections are cut, and it listens again after `downMs`. */
  async restart(downMs = 0): Promise<void> {
    await this.stop();
    await new Promise((resolve) => setTimeout(resolve, downMs));
    await this.start();
  }

  /** The hello of every connection so far, newest last. */
  get hellos(): HelloMessage[] {
    return this.received.flatMap(({ message }) => (message.type === 'hello' ? [message] : []));
  }

  /** True once the newest connection has said hello and, when the server answered it, acked that answer. */
  get isLatestSettled(): boolean {
    const latest = [...this.connections].filter((c) => c.hello !== null && c.ws.readyState === WebSocket.OPEN).at(-1);
    if (!latest) return false;
    if (!this.isAnsweringHello || this.current === null) return true;
    return this.received.some(({ connection, message }) => connection === latest.id && message.type === 'ack');
  }

  /** Open connections that have said hello. */
  get openCount(): number {
    return [...this.connections].filter((c) => c.hello !== null && c.ws.readyState === WebSocket.OPEN).length;
  }

  /** Makes `desired` current and sends it to every connection that said hello. */
  push(desired: ServedDesired): void {
    this.current = desired;
    this.sendDesired(desired);
  }

  /** Sends a desired frame without making it current (a duplicate, a stale or a reordered one). */
  sendDesired(desired: ServedDesired): void {
    const text = JSON.stringify({ type: 'desired', ...desired });
    for (const connection of this.helloed()) connection.ws.send(text);
  }

  /** Makes `desired` current, sends it, then cuts every connection before the agent can ack. */
  pushAndHangUp(desired: ServedDesired): void {
    this.current = desired;
    for (const connection of this.helloed()) {
      connection.ws.send(JSON.stringify({ type: 'desired', ...desired }), () => connection.socket.destroy());
    }
  }

  /**
   * Makes `desired` current and writes only the first `fraction` of its frame
   * (the header claims all of it), then cuts the connection mid-message.
   */
  pushMidMessageAndHangUp(desired: ServedDesired, fraction: number): void {
    this.current = desired;
    const payload = Buffer.from(JSON.stringify({ type: 'desired', ...desired }));
    const frame = Buffer.concat([renderFrameHeader(payload.length), payload]);
    const cut = Math.max(1, Math.min(frame.length - 1, Math.floor(frame.length * fraction)));
    for (const connection of this.helloed()) {
      connection.socket.write(frame.subarray(0, cut), () => connection.socket.destroy());
    }
  }

  /** Stops reading every connection: pings go unanswered, as from a dead peer. */
  freeze(): void {
    for (const connection of this.connections) connection.ws.pause();
  }

  /** Destroys every connection's socket without a close frame. */
  dropAll(): void {
    for (const connection of this.connections) connection.socket.destroy();
    this.connections.clear();
  }

  private helloed(): Connection[] {
    return [...this.connections].filter((c) => c.hello !== null && c.ws.readyState === WebSocket.OPEN);
  }

  private accept(ws: WebSocket, socket: Socket): void {
    const connection: Connection = { id: this.nextId++, ws, socket, hello: null };
    this.connections.add(connection);
    ws.on('error', () => undefined);
    ws.on('close', () => this.connections.delete(connection));
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as AgentMessage;
      this.received.push({ connection: connection.id, message });
      if (message.type !== 'hello') return;
      connection.hello = message;
      if (!this.isAnsweringHello) return;
      setTimeout(() => {
        if (this.current !== null && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'desired', ...this.current }));
      }, this.helloDelayMs);
    });
  }
}

/** An unmasked FIN text frame header (RFC 6455 §5.2) for a payload of `length` bytes. */
function renderFrameHeader(length: number): Buffer {
  if (length < 126) return Buffer.from([0x81, length]);
  if (length < 65536) return Buffer.from([0x81, 126, length >> 8, length & 0xff]);
  const header = Buffer.alloc(10);
  header[0] = 0x81;
  header[1] = 127;
  header.writeBigUInt64BE(BigInt(length), 2);
  return header;
}
