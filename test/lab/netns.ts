import { spawn as spawnChild, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

/** What a finished command left behind. `exitCode` is null when a signal (such as our timeout) ended it. */
export interface ExecResult { stdout: string; stderr: string; exitCode: number | null; timedOut: boolean }

/** Options for {@link runCommand} and {@link Lab.exec}. Without `allowFailure`, a non-zero exit or timeout throws. */
export interface ExecOptions { input?: string; allowFailure?: boolean; timeoutMs?: number }

/** A command failed (non-zero exit, signal, timeout or spawn error); carries the argv and what it printed. */
export class ExecError extends Error {
  constructor(readonly argv: readonly string[], readonly exitCode: number | null, readonly stderr: string, readonly timedOut: boolean) {
    super(`${argv.join(' ')}: ${timedOut ? 'timed out' : `exit ${exitCode}`}: ${stderr.trim()}`);
    this.name = 'ExecError';
  }
}

/** Runs argv in the current (root) namespace and collects its output; killed with SIGKILL after `timeoutMs` (default 10 s). */
export function runCommand(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('runCommand: empty argv');
  return new Promise((resolve, reject) => {
    const child = spawnChild(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => ((timedOut = true), child.kill('SIGKILL')), options.timeoutMs ?? 10_000);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin.on('error', () => undefined); // the command may exit before reading its input
    child.stdin.end(options.input ?? '');
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new ExecError(argv, null, error.message, false));
    });
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      const failed = exitCode !== 0 || timedOut;
      if (failed && options.allowFailure !== true) reject(new ExecError(argv, exitCode, stderr, timedOut));
      else resolve({ stdout, stderr, exitCode, timedOut });
    });
  });
}

/** Options for {@link waitFor}: the deadline, a name for the awaited condition, and the poll period (default 75 ms). */
export interface WaitOptions { timeoutMs: number; what: string; intervalMs?: number }

/** Thrown by {@link waitFor} at its deadline; names the condition and what the probe saw last. */
export class WaitTimeoutError extends Error {
  constructor(readonly what: string, readonly timeoutMs: number, readonly lastObservation: unknown) {
    super(`timed out after ${timeoutMs} ms waiting for ${what}; last observation: ${describeObservation(lastObservation)}`);
    this.name = 'WaitTimeoutError';
  }
}

function describeObservation(observation: unknown): string {
  if (observation instanceof Error) return `${observation.name}: ${observation.message}`;
  const text = typeof observation === 'string' ? observation : JSON.stringify(observation);
  return text === undefined ? String(observation) : text.slice(0, 800);
}

/** Thrown by a {@link waitFor} probe to give up at once (e.g. the daemon it waits on has died). */
export class WaitAbortedError extends Error {
  override name = 'WaitAbortedError';
}

/**
 * Polls `probe` every `intervalMs` until it returns something other than undefined/false, and returns
 * that. A probe that throws counts as "not yet", except with {@link WaitAbortedError}, which is rethrown.
 * The probe may call `note(x)` to record a more useful last observation than its return value.
 */
export async function waitFor<T>(
  probe: (note: (observation: unknown) => void) => Promise<T | undefined | false>,
  options: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let last: unknown = 'probe never completed';
  for (;;) {
    let noted = false;
    const note = (observation: unknown): void => void ((noted = true), (last = observation));
    try {
      const value = await probe(note);
      if (value !== undefined && value !== false) return value;
      if (!noted) last = value;
    } catch (error) {
      if (error instanceof WaitAbortedError) throw error;
      last = error;
    }
    const remainingMs = deadline - Date.now();
    if (remainingMs <= 0) throw new WaitTimeoutError(options.what, options.timeoutMs, last);
    await new Promise((resolve) => setTimeout(resolve, Math.min(options.intervalMs ?? 75, remainingMs)));
  }
}

/** True while `pid` names a live process; a zombie counts as gone (an orphan may wait for a reaper). */
export function isPidAlive(pid: number): boolean {
  try {
    // /proc/PID/stat is "pid (comm) state ..."; comm may itself contain ") ".
    return !/^\d+ \(.*\) Z /s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Ends `pid`: SIGTERM, then SIGKILL if it outlives `graceMs`. Resolves once it is gone (throws if even SIGKILL fails). */
export async function killPid(pid: number, graceMs = 3000): Promise<void> {
  if (!isPidAlive(pid)) return;
  signalPid(pid, 'SIGTERM');
  try {
    await waitFor(async () => !isPidAlive(pid), { timeoutMs: graceMs, what: `pid ${pid} to exit after SIGTERM`, intervalMs: 25 });
  } catch {
    signalPid(pid, 'SIGKILL');
    await waitFor(async () => !isPidAlive(pid), { timeoutMs: 2000, what: `pid ${pid} to exit after SIGKILL`, intervalMs: 25 });
  }
}

/** A long-running process the lab started in a namespace; cleanup stops it by this PID. */
export interface LabProcess {
  readonly pid: number;
  readonly namespace: string;
  readonly argv: readonly string[];
  readonly logPath: string;
  /** Settles when the process has exited (it never rejects). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
}

/**
 * Polls `check` every 10 ms until stopped; `stop()` resolves with how many
 * polls found it false. For "was this ever missing while something changed".
 */
export function countMisses(check: () => Promise<boolean>): { stop(): Promise<number> } {
  let misses = 0;
  let isStopped = false;
  const polling = (async () => {
    while (!isStopped) {
      if (!(await check())) misses++;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  return {
    async stop() {
      isStopped = true;
      await polling;
      return misses;
    },
  };
}

/** Options for {@link Lab.spawn}: where stdout+stderr go (default: a fresh file in the lab's tempDir). */
/** Segments the kernel dropped for a bad TCP-MD5 digest (TcpExt TCPMD5Failure), summed over the namespaces. */
export async function md5Failures(lab: Lab, namespaces: readonly string[]): Promise<number> {
  let total = 0;
  for (const ns of namespaces) {
    const lines = (await lab.exec(ns, ['cat', '/proc/net/netstat'])).stdout.split('\n').filter((l) => l.startsWith('TcpExt:'));
    const [names, values] = lines.map((l) => l.split(/\s+/));
    const index = names?.indexOf('TCPMD5Failure') ?? -1;
    if (index < 0) throw new Error(`no TCPMD5Failure counter in ${ns}`);
    total += Number(values?.[index]);
  }
  return total;
}

export interface SpawnOptions { logPath?: string }

const liveLabs = new Set<Lab>();
const exitSignals = ['SIGINT', 'SIGTERM'] as const;

// 'exit' listeners must be synchronous, so this path SIGKILLs without waiting.
function cleanupAllSync(): void {
  for (const lab of liveLabs) lab.cleanupSync();
}

function onExitSignal(signal: NodeJS.Signals): void {
  void Promise.allSettled([...liveLabs].map((lab) => lab.cleanup())).finally(() => {
    uninstallHooks();
    // Re-raise for the default action (death by the signal) unless someone else handles it too.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });
}

function installHooks(): void {
  if (liveLabs.size > 0) return;
  process.on('exit', cleanupAllSync);
  for (const signal of exitSignals) process.on(signal, onExitSignal);
}

function uninstallHooks(): void {
  process.off('exit', cleanupAllSync);
  for (const signal of exitSignals) process.off(signal, onExitSignal);
}

const MAX_IFNAME = 15; // IFNAMSIZ - 1 (include/uapi/linux/if.h)

/**
 * A set of network namespaces sharing one unique name prefix, the processes started in them, and a
 * temp dir. Every name and PID is recorded before it is created, so `cleanup()` also undoes a
 * half-finished build. Cleanup runs from afterAll, on process 'exit', SIGINT and SIGTERM.
 * Every `ns` argument is a short name (`vr`), turned into `<prefix>vr` by {@link Lab.namespace}.
 */
export class Lab {
  private readonly namespaces = new Set<string>();
  private readonly processes = new Set<LabProcess>();
  private readonly pidFiles: { namespace: string; path: string }[] = [];
  private cleanupPromise: Promise<void> | undefined;
  private spawnCount = 0;

  /** `prefix`: the start of every namespace name of this lab; `tempDir`: for configs, pid files and logs (removed by cleanup). */
  private constructor(readonly prefix: string, readonly tempDir: string) {}

  /** Makes an empty lab with a unique prefix (`v6l` + pid in base 36 + random hex) and registers its cleanup hooks. */
  static async create(): Promise<Lab> {
    const prefix = `v6l${process.pid.toString(36)}${randomBytes(3).toString('hex')}-`;
    const lab = new Lab(prefix, mkdtempSync(join(tmpdir(), `vr6-${prefix}`)));
    installHooks();
    liveLabs.add(lab);
    return lab;
  }

  /** The full namespace name for a short name (`vr` → `<prefix>vr`). */
  namespace(shortName: string): string {
    if (!/^[a-z0-9][a-z0-9-]*$/i.test(shortName)) throw new Error(`bad namespace short name ${JSON.stringify(shortName)}`);
    return this.prefix + shortName;
  }

  /** Creates the namespace and brings its loopback up; returns the full name. */
  async addNamespace(shortName: string): Promise<string> {
    this.assertOpen();
    const name = this.namespace(shortName);
    this.namespaces.add(name);
    await runCommand(['ip', 'netns', 'add', name]);
    await runCommand(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  /**
   * Creates a veth pair with `ifA` in `nsA` and `ifB` in `nsB`. The kernel creates each end directly
   * in its target namespace, so no temporary name ever exists in the root namespace. Both ends are
   * brought up unless `up: false` (to set per-interface sysctls first).
   */
  async addLink(nsA: string, ifA: string, nsB: string, ifB: string, options: { up?: boolean } = {}): Promise<void> {
    this.assertOpen();
    const tooLong = [ifA, ifB].find((ifname) => ifname.length > MAX_IFNAME);
    if (tooLong !== undefined) throw new Error(`interface name ${tooLong} is longer than ${MAX_IFNAME}`);
    const [fullA, fullB] = [this.namespace(nsA), this.namespace(nsB)];
    await runCommand(['ip', 'link', 'add', 'name', ifA, 'netns', fullA, 'type', 'veth', 'peer', 'name', ifB, 'netns', fullB]);
    if (options.up !== false) await Promise.all([this.setLinkUp(nsA, ifA), this.setLinkUp(nsB, ifB)]);
  }

  /** Brings an interface up. */
  async setLinkUp(ns: string, ifname: string): Promise<void> {
    await runCommand(['ip', '-n', this.namespace(ns), 'link', 'set', ifname, 'up']);
  }

  /** Writes one sysctl inside the namespace (`/proc/sys/net` is per network namespace, so it must run there). */
  async sysctl(ns: string, key: string, value: string | number): Promise<void> {
    await this.exec(ns, ['sysctl', '-q', '-w', `${key}=${value}`]);
  }

  /** Runs argv inside the namespace via `ip netns exec`; see {@link runCommand}. */
  exec(ns: string, argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    return runCommand(['ip', 'netns', 'exec', this.namespace(ns), ...argv], options);
  }

  /** Starts a long-running argv in the namespace, records its PID, and sends stdout+stderr to a log file. */
  async spawn(ns: string, argv: readonly string[], options: SpawnOptions = {}): Promise<LabProcess> {
    this.assertOpen();
    const namespace = this.namespace(ns);
    const logPath = options.logPath ?? join(this.tempDir, `${ns}-${basename(argv[0] ?? 'proc')}-${++this.spawnCount}.log`);
    const logFd = openSync(logPath, 'a');
    const fullArgv = ['ip', 'netns', 'exec', namespace, ...argv];
    // `ip netns exec` execs the command in place, so the child's PID is the command's PID.
    const child = spawnChild('ip', fullArgv.slice(1), { stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    let hasExited = false;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.on('exit', (code, signal) => ((hasExited = true), resolve({ code, signal })));
      child.on('error', () => ((hasExited = true), resolve({ code: null, signal: null })));
    });
    await new Promise<void>((resolve, reject) => void child.once('spawn', resolve).once('error', reject));
    const proc: LabProcess = { pid: child.pid ?? -1, namespace, argv: fullArgv, logPath, exited, hasExited: () => hasExited };
    this.processes.add(proc);
    return proc;
  }

  /** Stops a tracked process: SIGTERM by PID, SIGKILL after `graceMs` (default 3 s); resolves once it has exited. */
  async stop(proc: LabProcess, graceMs = 3000): Promise<void> {
    const exitedWithin = (ms: number): Promise<boolean> =>
      Promise.race([proc.exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(resolve, ms, false).unref())]);
    if (!proc.hasExited()) {
      signalPid(proc.pid, 'SIGTERM');
      if (!(await exitedWithin(graceMs))) {
        signalPid(proc.pid, 'SIGKILL');
        if (!(await exitedWithin(5000))) throw new Error(`pid ${proc.pid} (${proc.argv.join(' ')}) survived SIGKILL`);
      }
    }
    this.processes.delete(proc);
  }

  /** Records a daemon's pid file; cleanup kills that PID if it is still inside the namespace (for daemons that fork). */
  trackPidFile(ns: string, path: string): void {
    this.pidFiles.push({ namespace: this.namespace(ns), path });
  }

  /** PIDs of every process inside one of this lab's namespaces (from `ip netns pids`). */
  listNamespacePids(): number[] {
    return this.listOwnNamespaces().flatMap((name) => parsePids(runSync(['ip', 'netns', 'pids', name])));
  }

  /** The namespaces that exist now and carry this lab's prefix. */
  listOwnNamespaces(): string[] {
    return parseNetnsList(runSync(['ip', 'netns', 'list'])).filter((name) => name.startsWith(this.prefix));
  }

  /**
   * Stops every tracked process, then every process named by a tracked pid file or still inside one
   * of our namespaces (all by PID, SIGTERM then SIGKILL), deletes the namespaces and the temp dir. Idempotent.
   */
  cleanup(): Promise<void> {
    this.cleanupPromise ??= this.runCleanup();
    return this.cleanupPromise;
  }

  private async runCleanup(): Promise<void> {
    try {
      await Promise.allSettled([...this.processes].map((proc) => this.stop(proc)));
      await Promise.allSettled(this.findStrayPids().map((pid) => killPid(pid)));
    } finally {
      this.deleteNamespacesAndFiles();
    }
  }

  /** The synchronous last resort used on process 'exit': SIGKILL by PID, delete namespaces, remove the temp dir. */
  cleanupSync(): void {
    if (!liveLabs.has(this)) return;
    this.cleanupPromise ??= Promise.resolve();
    for (const proc of this.processes) if (!proc.hasExited()) signalPid(proc.pid, 'SIGKILL');
    for (const pid of this.findStrayPids()) signalPid(pid, 'SIGKILL');
    // A namespace whose last process is still dying disappears once it is gone; unmounting it now is fine.
    this.deleteNamespacesAndFiles();
  }

  // A pid file may be stale and its PID reused, so only PIDs still inside our namespace count.
  private findStrayPids(): number[] {
    const fromFiles = this.pidFiles.flatMap(({ namespace, path }) => {
      const pid = Number.parseInt(readTextOrEmpty(path).trim(), 10);
      return pid > 0 && runSync(['ip', 'netns', 'identify', String(pid)]).trim() === namespace ? [pid] : [];
    });
    return [...new Set([...fromFiles, ...this.listNamespacePids()])];
  }

  private deleteNamespacesAndFiles(): void {
    for (const name of new Set([...this.namespaces, ...this.listOwnNamespaces()])) runSync(['ip', 'netns', 'delete', name]);
    rmSync(this.tempDir, { recursive: true, force: true });
    this.forget();
  }

  private forget(): void {
    this.processes.clear();
    liveLabs.delete(this);
    if (liveLabs.size === 0) uninstallHooks();
  }

  private assertOpen(): void {
    if (this.cleanupPromise !== undefined) throw new Error(`lab ${this.prefix} is already cleaned up`);
  }
}

// Cleanup's listing helpers are synchronous so that the 'exit' hook can use them too.
function runSync(argv: readonly string[]): string {
  const [file, ...args] = argv;
  return spawnSync(file ?? 'false', args, { encoding: 'utf8', timeout: 10_000 }).stdout ?? '';
}

function readTextOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function parsePids(text: string): number[] {
  return text.split(/\s+/).filter((word) => /^\d+$/.test(word)).map(Number);
}

// `ip netns list` prints "name" or "name (id: N)" per line.
function parseNetnsList(text: string): string[] {
  return text.split('\n').map((line) => line.trim().split(/\s+/)[0] ?? '').filter((name) => name.length > 0);
}
