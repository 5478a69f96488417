import { execFile, type ChildProcess, type ExecFileException } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ExecError, type ExecOptions, type ExecResult } from './host.js';

const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

interface Outcome {
  readonly error: ExecFileException | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * One process of a command, spawned and waiting for its input, its output
 * collected as execFile collects it. SystemHost.exec runs every command
 * through one: spawned there and then, or earlier, as a spare (see
 * SystemHost.exec), and both give the same result and the same ExecError
 * because they are the same code. It runs once: `run` writes the input and
 * ends stdin.
 *
 * Until `run`, the process holds no reference on the event loop, and it ends
 * by itself when the agent does, because its stdin closes.
 */
export class StartedCommand {
  private readonly child: ChildProcess;
  private outcome: Outcome | null = null;
  private onOutcome: ((outcome: Outcome) => void) | null = null;
  private hasRun = false;

  /** Spawns argv (without a shell); throws what execFile throws synchronously (a NUL in an argument, say). */
  constructor(private readonly argv: readonly string[]) {
    const [file, ...args] = argv;
    if (file === undefined) throw new ExecError(argv, null, 'empty argv');
    // No timeout here: it counts from `run`, not from the spawn, which for a spare is long before.
    this.child = execFile(file, args, { maxBuffer: MAX_OUTPUT_BYTES, encoding: 'utf8' }, (error, stdout, stderr) => {
      this.outcome = { error, stdout, stderr };
      this.onOutcome?.(this.outcome);
    });
    // EPIPE when a command exits before reading its input is reported through the exit status.
    this.child.stdin?.on('error', () => undefined);
    holdEventLoop(this.child, false);
  }

  /**
   * Whether the process is still there to be given its input. A process
   * killed or ended since it was spawned, even one Node has not reaped yet
   * (a zombie in /proc), is not; one killed after this answer fails its
   * run as a fresh process killed while running would.
   */
  isWaiting(): boolean {
    if (this.hasRun || this.outcome !== null || this.child.exitCode !== null || this.child.signalCode !== null) return false;
    const pid = this.child.pid;
    if (pid === undefined) return false;
    try {
      // The state follows the command name, which is in parentheses and may hold anything.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
    } catch {
      return false;
    }
  }

  /** Writes the input, ends stdin and resolves on exit code 0, else rejects with ExecError; a second run rejects. */
  run(options: ExecOptions = {}): Promise<ExecResult> {
    if (this.hasRun) return Promise.reject(new ExecError(this.argv, null, 'a started command runs once'));
    this.hasRun = true;
    holdEventLoop(this.child, true);
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    // As execFile's own timeout: SIGTERM, and the exit by a signal is the error.
    const timer = timeoutMs > 0 ? setTimeout(() => this.child.kill('SIGTERM'), timeoutMs) : null;
    this.child.stdin?.end(options.input ?? '');
    return new Promise((resolve, reject) => {
      const settle = ({ error, stdout, stderr }: Outcome) => {
        if (timer !== null) clearTimeout(timer);
        if (error === null) return resolve({ stdout, stderr, exitCode: 0 });
        const code = typeof error.code === 'number' ? error.code : null;
        reject(new ExecError(this.argv, code, stderr || error.message, error));
      };
      if (this.outcome !== null) settle(this.outcome);
      else this.onOutcome = settle;
    });
  }

  /** Ends a process that has not run; one running is left to finish. */
  close(): void {
    if (this.hasRun) return;
    this.hasRun = true;
    this.child.stdin?.end();
    this.child.kill('SIGKILL');
  }
}

/**
 * Whether a child process (and its pipes) keeps the agent's event loop
 * alive: a process kept waiting must not, one at work does, as any spawn.
 */
export function holdEventLoop(child: ChildProcess, isHeld: boolean): void {
  if (isHeld) child.ref();
  else child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) {
    const handle = stream as unknown as { ref?: () => void; unref?: () => void } | null;
    if (isHeld) handle?.ref?.();
    else handle?.unref?.();
  }
}
