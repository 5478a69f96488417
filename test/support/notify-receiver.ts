import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One datagram the receiver got, as notify-receiver.py prints it. */
export interface NotifyMessage {
  readonly time: number;
  readonly pid: number | null;
  readonly text: string;
  readonly fds: number;
  /** For READY=1 only: whether each --on-ready path existed when it arrived. */
  readonly ready_paths?: Record<string, boolean>;
}

/** A running stand-in for systemd's notification socket. */
export interface NotifyReceiver {
  /** The socket path, for NOTIFY_SOCKET. */
  readonly path: string;
  readonly pid: number;
  /** Every message so far, without systemd-notify's BARRIER=1 datagrams. */
  messages(): NotifyMessage[];
  /** Waits until a message matches; rejects at the deadline with what arrived. */
  waitFor(predicate: (message: NotifyMessage) => boolean, timeoutMs: number, what: string): Promise<NotifyMessage>;
  stop(): Promise<void>;
}

const SCRIPT = join(process.cwd(), 'test/support/notify-receiver.py');

/** Starts test/support/notify-receiver.py on `<directory>/notify` and waits until it listens. */
export async function startNotifyReceiver(directory: string, onReadyPaths: readonly string[] = []): Promise<NotifyReceiver> {
  const path = join(directory, 'notify');
  const logPath = join(directory, 'notify.log');
  const { openSync, closeSync } = await import('node:fs');
  const fd = openSync(logPath, 'w');
  const child: ChildProcess = spawn('python3', [SCRIPT, path, '--on-ready', ...onReadyPaths], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = (): Record<string, unknown>[] =>
    readFileSync(logPath, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  const messages = () => lines().filter((l) => typeof l.text === 'string' && l.text !== 'BARRIER=1') as unknown as NotifyMessage[];
  const until = async <T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; received: ${JSON.stringify(messages().map((m) => m.text))}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };
  await until(() => (lines().some((l) => l.event === 'listening') ? true : undefined), 5000, 'the notify receiver to listen');
  return {
    path,
    pid: child.pid ?? -1,
    messages,
    waitFor: (predicate, timeoutMs, what) => until(() => messages().find(predicate), timeoutMs, what),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
