/**
 * The single seam between the agent and the machine it reconciles: every
 * command, long-running watch, file, directory listing, sysctl and process
 * the agent reads or changes goes through one of these methods, so the
 * shell runs against test/support/memory-host.ts in unit tests and against
 * SystemHost on a VR. Two things stay outside, because they are the
 * daemon's own plumbing rather than the host's state: the control socket it
 * listens on (daemon/control-socket.ts) and the state and runtime
 * directories it creates at start (daemon/main.ts).
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
  /**
   * Run it in a process of this argv spawned ahead and waiting, if one is,
   * and have the next spawned after it, when the agent is idle: for a
   * command on the latency path whose input is all its work. Each such
   * process serves one exec; the result is the same as without.
   */
  readonly spare?: boolean;
}

/** Options of one question to a resident command. */
export interface AskOptions {
  /** Give up on the process after this long without its answer; default 5 s. */
  readonly timeoutMs?: number;
  /** End the running process and ask a new one. */
  readonly fresh?: boolean;
}

/** A long-running command started by Host.watch. */
export interface WatchedCommand {
  /** Ends the command (SIGTERM); its onExit is not called after this. */
  stop(): void;
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
  /**
   * Starts a long-running command (`ip -o monitor`, say) with no stdin and
   * hands each line of its stdout to onLine as it comes. onExit runs once
   * when the command ends by itself: with its exit code, or null when a
   * signal ended it or it could not start. Restarting is the caller's choice.
   */
  watch(argv: readonly string[], onLine: (line: string) => void, onExit: (code: number | null) => void): WatchedCommand;
  /** A file's text, or null when it does not exist. */
  readFile(path: string): Promise<string | null>;
  /** Replaces a file so that readers see the old or the new content, never a mix: temp file, fsync, rename, fsync dir. */
  writeFileAtomic(path: string, content: string, mode?: number): Promise<void>;
  /** Removes a file; no error when it is already gone. */
  removeFile(path: string): Promise<void>;
  /** The names of the entries of a directory, in no particular order; empty when it does not exist. */
  listDirectory(path: string): Promise<string[]>;
  /**
   * Sysctls such as "net/ipv6/conf/eth1/accept_ra": each key's value,
   * trimmed, or null when the key does not exist.
   */
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
