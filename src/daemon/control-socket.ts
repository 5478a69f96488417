import { chmod, lstat, unlink } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { ControlError, ControlRequest, MAX_CONTROL_LINE_BYTES, type ControlResponse } from '../schema/control-protocol.js';
import { parseWith } from '../schema/validation.js';

/** Runs one validated request; rejects with ControlError for a refusal, anything else is an internal error. */
export type ControlHandler = (request: ControlRequest) => Promise<unknown>;

/** Another daemon answers on the socket path: two agents must not drive one host. */
export class ControlSocketBusyError extends Error {
  constructor(readonly path: string) {
    super(`another process is listening on ${path}; is vr6-agent already running?`);
    this.name = 'ControlSocketBusyError';
  }
}

/**
 * The daemon's end of the control protocol (schema/control-protocol.ts): a
 * unix stream socket, mode 0600 inside the 0700 runtime directory, so only
 * root reaches it. Each connection is served one request at a time, in order.
 */
export class ControlSocketServer {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly path: string,
    private readonly handle: ControlHandler,
    private readonly log: Logger,
  ) {}

  /** Listens; a stale socket left by a dead daemon is replaced, a live one is refused. */
  async listen(): Promise<void> {
    await removeStaleSocket(this.path);
    const server = createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    server.on('error', (error) => this.log.error({ err: error }, 'control socket error'));
    await chmod(this.path, 0o600);
  }

  /** Stops accepting, drops open connections and removes the socket file. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server === null) return;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await unlink(this.path).catch(() => undefined);
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffer = '';
    let queue = Promise.resolve();
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      let newline = buffer.indexOf('\n');
      while (newline >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (line.trim().length > 0) queue = queue.then(() => this.answer(socket, line));
        newline = buffer.indexOf('\n');
      }
      if (buffer.length > MAX_CONTROL_LINE_BYTES) {
        const response: ControlResponse = { ok: false, error: { code: 'bad-request', message: `request longer than ${MAX_CONTROL_LINE_BYTES} bytes` } };
        socket.end(`${JSON.stringify(response)}\n`);
        buffer = '';
      }
    });
  }

  private async answer(socket: Socket, line: string): Promise<void> {
    const response = await this.respond(line);
    if (!socket.destroyed) socket.write(`${JSON.stringify(response)}\n`);
  }

  /** The response to one request line; never throws. */
  async respond(line: string): Promise<ControlResponse> {
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      return { ok: false, error: { code: 'bad-request', message: 'request is not JSON' } };
    }
    const id = typeof (json as { id?: unknown })?.id === 'number' ? ((json as { id: number }).id as number) : undefined;
    const parsed = parseWith(ControlRequest, json);
    if (!parsed.ok) return { id, ok: false, error: { code: 'bad-request', message: 'invalid request', errors: parsed.errors } };
    const log = this.log.child({ command: parsed.value.command });
    log.debug('control request');
    try {
      return { id, ok: true, result: await this.handle(parsed.value) };
    } catch (error) {
      if (error instanceof ControlError) {
        return { id, ok: false, error: { code: error.code, message: error.message, ...(error.errors.length > 0 ? { errors: error.errors } : {}) } };
      }
      log.error({ err: error }, 'control command failed');
      return { id, ok: false, error: { code: 'internal', message: error instanceof Error ? error.message : String(error) } };
    }
  }
}

async function removeStaleSocket(path: string): Promise<void> {
  const stat = await lstat(path).catch(() => null);
  if (stat === null) return;
  if (!stat.isSocket()) throw new Error(`${path} exists and is not a socket`);
  const isAlive = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (isAlive) throw new ControlSocketBusyError(path);
  await unlink(path);
}
