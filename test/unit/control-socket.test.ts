import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sendControlRequest, AgentUnreachableError } from '../../src/cli/control-client.js';
import { ControlSocketBusyError, ControlSocketServer } from '../../src/daemon/control-socket.js';
import { ControlError, type ControlRequest } from '../../src/schema/control-protocol.js';

const silent = pino({ level: 'silent' });

/** Sends raw lines on one connection and collects `count` response lines. */
async function exchange(path: string, payload: string, count: number): Promise<unknown[]> {
  const { connect } = await import('node:net');
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(payload));
    socket.on('error', reject);
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split('\n').filter((l) => l.length > 0);
      if (lines.length >= count && buffer.endsWith('\n')) {
        socket.end();
        resolve(lines.map((l) => JSON.parse(l) as unknown));
      }
    });
  });
}

describe('control socket', () => {
  let directory: string;
  let path: string;
  let server: ControlSocketServer | null;
  const handled: ControlRequest[] = [];

  const handler = async (request: ControlRequest): Promise<unknown> => {
    handled.push(request);
    if (request.command === 'reconcile') throw new ControlError('no-desired-state', 'nothing to reconcile');
    if (request.command === 'plan') throw new Error('disk on fire');
    if (request.command === 'show') {
      // Answers out of order if the server did not serialise a connection's requests.
      await new Promise((resolve) => setTimeout(resolve, 50));
      return { topic: request.topic };
    }
    return { echo: request.command };
  };

  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'vr6-control-'));
    path = join(directory, 'control.sock');
    handled.length = 0;
    server = null;
  });

  afterEach(async () => {
    await server?.close();
    rmSync(directory, { recursive: true, force: true });
  });

  it('answers a request with its result, over a socket only its owner may use', async () => {
    server = new ControlSocketServer(path, handler, silent);
    await server.listen();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(await sendControlRequest(path, { id: 7, command: 'status' }, 2000)).toEqual({ id: 7, ok: true, result: { echo: 'status' } });
  });

  it('answers several requests on one connection in order', async () => {
    server = new ControlSocketServer(path, handler, silent);
    await server.listen();
    const lines = [{ id: 1, command: 'show', topic: 'desired' }, { id: 2, command: 'status' }].map((r) => JSON.stringify(r)).join('\n');
    expect(await exchange(path, `${lines}\n`, 2)).toEqual([
      { id: 1, ok: true, result: { topic: 'desired' } },
      { id: 2, ok: true, result: { echo: 'status' } },
    ]);
  });

  it('refuses bad requests with a code, and turns refusals and crashes into error answers', async () => {
    server = new ControlSocketServer(path, handler, silent);
    await server.listen();
    const answers = await exchange(path, 'not json\n{"command":"dance"}\n{"command":"log-level","level":"loud"}\n{"command":"reconcile"}\n{"command":"plan"}\n', 5);
    expect(answers).toEqual([
      { ok: false, error: { code: 'bad-request', message: 'request is not JSON' } },
      { ok: false, error: { code: 'bad-request', message: 'invalid request', errors: [expect.objectContaining({ path: '$.command' })] } },
      { ok: false, error: { code: 'bad-request', message: 'invalid request', errors: [expect.objectContaining({ path: '$.level' })] } },
      { ok: false, error: { code: 'no-desired-state', message: 'nothing to reconcile' } },
      { ok: false, error: { code: 'internal', message: 'disk on fire' } },
    ]);
    expect(handled.map((r) => r.command)).toEqual(['reconcile', 'plan']);
  });

  it('replaces a stale socket, refuses to start beside a live one, and removes its socket on close', async () => {
    const stale = createServer();
    await new Promise<void>((resolve) => stale.listen(path, resolve));
    // A listener that died without unlinking: close() unlinks, so recreate the file as a dead socket.
    await new Promise<void>((resolve) => stale.close(() => resolve()));
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(path, resolve));
    const busy = new ControlSocketServer(path, handler, silent);
    await expect(busy.listen()).rejects.toBeInstanceOf(ControlSocketBusyError);
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    writeFileSync(path, '');
    await expect(new ControlSocketServer(path, handler, silent).listen()).rejects.toThrow(/not a socket/);
    rmSync(path);
    server = new ControlSocketServer(path, handler, silent);
    await server.listen();
    expect((await sendControlRequest(path, { command: 'status' }, 2000)).ok).toBe(true);
    await server.close();
    server = null;
    expect(() => statSync(path)).toThrow();
  });

  it('tells the client why the agent cannot be reached', async () => {
    const missing = await sendControlRequest(path, { command: 'status' }, 2000).catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(AgentUnreachableError);
    expect(missing).toMatchObject({ reason: 'missing' });
    // A socket that accepts and never answers.
    const mute = createServer((socket) => socket.resume());
    await new Promise<void>((resolve) => mute.listen(path, resolve));
    const silentAgent = await sendControlRequest(path, { command: 'status' }, 200).catch((error: unknown) => error);
    expect(silentAgent).toMatchObject({ reason: 'timeout' });
    await new Promise<void>((resolve) => mute.close(() => resolve()));
  });
});
