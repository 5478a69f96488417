import { connect } from 'node:net';
import { ControlResponse, type ControlRequest } from '../schema/control-protocol.js';
import { parseWith } from '../schema/validation.js';

/** The agent could not be asked: no socket, no permission, no answer, or an answer that is not the protocol. */
export class AgentUnreachableError extends Error {
  constructor(
    readonly socketPath: string,
    readonly reason: 'missing' | 'permission' | 'refused' | 'timeout' | 'protocol' | 'closed',
    detail: string,
  ) {
    super(detail);
    this.name = 'AgentUnreachableError';
  }
}

const HINTS: Record<AgentUnreachableError['reason'], (path: string) => string> = {
  missing: (path) => `no control socket at ${path}; is vr6-agent running? (systemctl status vr6-agent)`,
  permission: (path) => `permission denied on ${path}; vr6ctl must run as root`,
  refused: (path) => `nothing listens on ${path}; vr6-agent is not running (stale socket)`,
  timeout: (path) => `vr6-agent did not answer on ${path} in time`,
  protocol: (path) => `vr6-agent sent an answer on ${path} that is not the control protocol`,
  closed: (path) => `vr6-agent closed ${path} without answering`,
};

/** Sends one request over the unix socket and resolves with the validated response. */
export function sendControlRequest(socketPath: string, request: ControlRequest, timeoutMs: number): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let buffer = '';
    let isSettled = false;
    const fail = (reason: AgentUnreachableError['reason'], detail?: string) => {
      if (isSettled) return;
      isSettled = true;
      socket.destroy();
      reject(new AgentUnreachableError(socketPath, reason, detail ?? HINTS[reason](socketPath)));
    };
    const timer = setTimeout(() => fail('timeout'), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const reason = error.code === 'ENOENT' ? 'missing' : error.code === 'EACCES' || error.code === 'EPERM' ? 'permission' : error.code === 'ECONNREFUSED' ? 'refused' : 'closed';
      fail(reason, reason === 'closed' ? `${socketPath}: ${error.message}` : undefined);
    });
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const newline = buffer.indexOf('\n');
      if (newline < 0) return;
      clearTimeout(timer);
      isSettled = true;
      socket.end();
      let json: unknown;
      try {
        json = JSON.parse(buffer.slice(0, newline));
      } catch {
        return reject(new AgentUnreachableError(socketPath, 'protocol', HINTS.protocol(socketPath)));
      }
      const parsed = parseWith(ControlResponse, json);
      if (parsed.ok) resolve(parsed.value);
      else reject(new AgentUnreachableError(socketPath, 'protocol', HINTS.protocol(socketPath)));
    });
    socket.on('close', () => {
      clearTimeout(timer);
      fail('closed');
    });
  });
}
