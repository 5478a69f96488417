/**
 * The single seam between the agent and the machine. Everything that touches
 * the host goes through one of these methods, so the rest of the shell can run
 * against MemoryHost in unit tests and against SystemHost on a VR.
 */

/** What a finished command returned. */
export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}

/** A command that could not run or exited non-zero; carries what an operator needs to reproduce it. */
export class ExecError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    cause?: unknown,
  ) {
    super(`${argv.join(' ')} failed (${exitCode === null ? 'did not run' : `exit ${exitCode}`}): ${firstLine(stderr)}`, {
      cause,
    });
    this.name = 'ExecError';
  }
}

function firstLine(text: string): string {
  const trimmed = text.trim();
  return trimmed.length === 0 ? 'no output' : trimmed.split('\n').slice(0, 3).join(' | ');
}

/** Options of one command run. */
export interface ExecOptions {
  /** Text written to the command's stdin. */
  readonly input?: string;
  /** Kill the command after this long; default 30 s. */
  readonly timeoutMs?: number;
}

/** Options of one question to a resident command. */
export interface AskOptions {
  /** Give up on the process after this long without its answer; default 5 s. */
  readonly timeoutMs?: number;
  /** End the running process and ask a new one. */
  readonly fresh?: boolean;
}

/** The machine, as the agent sees it. */
export interface Host {
  /** Runs argv without a shell; resolves only on exit code 0, else rejects with ExecError. */
  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /**
   * Asks a long-running line-oriented command (`ip -j -batch -`, say): writes
   * the requests, one per line, and resolves with its next as many lines of
   * output. The command starts at the first question and stays for the next;
   * one that exits, fails or misses the timeout rejects with ExecError, and
   * the next question starts it again. `fresh` starts a new one first.
   */
  ask(argv: readonly string[], requests: readonly string[], options?: AskOptions): Promise<string[]>;
  /** A file's text, or null when it does not exist. */
  readFile(path: string): Promise<string | null>;
  /** Replaces a file so that readers see the old or the new content, never a mix: temp file, fsync, rename, fsync dir. */
  writeFileAtomic(path: string, content: string, mode?: number): Promise<void>;
  /** Removes a file; no error when it is already gone. */
  removeFile(path: string): Promise<void>;
  /** A sysctl such as "net/ipv6/conf/eth1/accept_ra", trimmed, or null when the key does not exist. */
  readSysctl(key: string): Promise<string | null>;
  /** Several sysctls at once, each as readSysctl would answer. */
  readSysctls(keys: readonly string[]): Promise<Map<string, string | null>>;
  /** Writes a sysctl; rejects when the key does not exist. */
  writeSysctl(key: string, value: string): Promise<void>;
  /** Sends a signal to a PID; false when no such process exists, throws when it may not be signalled. */
  signal(pid: number, signal: NodeJS.Signals): boolean;
  /**
   * Starts a long-running program in its own session, detached from the
   * agent (it outlives an agent restart), with no stdio; resolves with its PID.
   */
  spawnDaemon(argv: readonly string[]): Promise<number>;
  /** A process's argv from /proc, or null when it is gone. */
  readCommandLine(pid: number): Promise<string[] | null>;
}
