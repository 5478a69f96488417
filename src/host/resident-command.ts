import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { ExecError } from './host.js';
import { holdEventLoop } from './started-command.js';

const MAX_STDERR_CHARS = 4096;
const MAX_PENDING_CHARS = 64 * 1024 * 1024;

interface Waiter {
  readonly count: number;
  readonly resolve: (lines: string[]) => void;
  readonly reject: (error: Error) => void;
}

/**
 * A line-oriented command kept running between questions: one line in, one
 * line out per request (`ip -j -batch -`, `vr6-nft-genid --serve`). Node 18
 * forks the whole agent for every spawn, which blocks the event loop, and
 * more so the larger the agent is, so a resync that spawned its readers cost
 * more than what they read (bench/README.md).
 *
 * Questions are answered one at a time, in order. A command that exits, fails
 * to start or misses the timeout is gone: the question is rejected with an
 * ExecError, and the next one starts a new process. The process holds no
 * reference on the event loop, and it ends by itself when the agent does,
 * because its stdin closes.
 */
export class ResidentCommand {
  private child: ChildProcessWithoutNullStreams | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private waiter: Waiter | null = null;
  private lines: string[] = [];
  private partial = '';
  private stderr = '';

  constructor(private readonly argv: readonly string[]) {}

  /** Writes the requests, one per line, and resolves with the next as many lines of output; `fresh` asks a new process. */
  ask(requests: readonly string[], timeoutMs: number, fresh = false): Promise<string[]> {
    const answer = this.queue.then(() => {
      if (fresh) this.close();
      return this.askNow(requests, timeoutMs);
    });
    this.queue = answer.catch(() => undefined);
    return answer;
  }

  /** Ends the process, if one runs; the next question starts another. */
  close(): void {
    const child = this.child;
    this.child = null;
    if (child === null) return;
    child.stdin.end();
    child.kill('SIGKILL');
  }

  private askNow(requests: readonly string[], timeoutMs: number): Promise<string[]> {
    if (requests.some((line) => line.includes('\n'))) return Promise.reject(new Error('a request is one line'));
    let child: ChildProcessWithoutNullStreams;
    try {
      child = this.child ?? this.start();
    } catch (error) {
      return Promise.reject(new ExecError(this.argv, null, (error as Error).message, error));
    }
    this.lines = [];
    this.partial = '';
    this.stderr = '';
    return new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new ExecError(this.argv, null, `no answer within ${timeoutMs} ms`)), timeoutMs);
      const settle = () => {
        clearTimeout(timer);
        this.waiter = null;
      };
      this.waiter = {
        count: requests.length,
        resolve: (lines) => {
          settle();
          resolve(lines);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      };
      child.stdin.write(requests.map((line) => `${line}\n`).join(''));
    });
  }

  private start(): ChildProcessWithoutNullStreams {
    const [file, ...args] = this.argv;
    if (file === undefined) throw new Error('empty argv');
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => this.onOutput(child, chunk));
    child.stderr.on('data', (chunk: string) => {
      if (child === this.child) this.stderr = (this.stderr + chunk).slice(-MAX_STDERR_CHARS);
    });
    // EPIPE when it exits before reading is reported by the exit.
    child.stdin.on('error', () => undefined);
    child.on('error', (error) => {
      if (child === this.child) this.fail(new ExecError(this.argv, null, error.message, error));
    });
    // 'close', not 'exit': by then its last words on stderr have been read.
    child.on('close', (code, signal) => {
      if (child !== this.child) return;
      const why = this.stderr.trim() || `exited ${signal ?? `with status ${code}`} while asked`;
      this.fail(new ExecError(this.argv, code, why));
    });
    // Only a question in flight keeps the agent alive: its timer does.
    holdEventLoop(child, false);
    return child;
  }

  private onOutput(child: ChildProcessWithoutNullStreams, chunk: string): void {
    if (child !== this.child) return;
    const waiter = this.waiter;
    if (waiter === null) {
      this.fail(new ExecError(this.argv, null, `printed output nobody asked for: ${chunk.slice(0, 200)}`));
      return;
    }
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    this.lines.push(...parts);
    if (this.partial.length > MAX_PENDING_CHARS) {
      this.fail(new ExecError(this.argv, null, `an answer longer than ${MAX_PENDING_CHARS} characters`));
    } else if (this.lines.length > waiter.count || (this.lines.length === waiter.count && this.partial !== '')) {
      this.fail(new ExecError(this.argv, null, `answered ${this.lines.length} lines to ${waiter.count} requests`));
    } else if (this.lines.length === waiter.count) {
      waiter.resolve(this.lines);
      this.lines = [];
    }
  }

  // Whatever went wrong, the process is not trusted again.
  private fail(error: ExecError): void {
    this.close();
    this.waiter?.reject(error);
  }
}
