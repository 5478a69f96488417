import { spawn } from 'node:child_process';
import { closeSync, constants, fstatSync, fsync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { ExecError, type AskOptions, type ExecOptions, type ExecResult, type Host, type WatchedCommand } from './host.js';
import { ResidentCommand } from './resident-command.js';
import { StartedCommand } from './started-command.js';

const DEFAULT_ASK_TIMEOUT_MS = 5_000;
/** How long after an exec with `spare` the next spare is spawned. */
const SPARE_DELAY_MS = 250;
// statfs(2) f_type of the file systems that live in memory only.
const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;

/** The real machine: child_process, the file system and /proc/sys. */
export class SystemHost implements Host {
  private readonly residents = new Map<string, ResidentCommand>();
  private readonly onDisk = new Map<string, boolean>();
  private readonly spares = new Map<string, StartedCommand>();
  private readonly sparesDue = new Set<NodeJS.Timeout>();

  /**
   * With `spare`, the command runs in a process of the same argv spawned
   * ahead, when one is waiting, and the next one is spawned afterwards, off
   * the path. Node 18 forks the whole agent for a spawn and its event loop
   * waits for the fork (4–7 ms for the bench's agent, bench/README.md), and
   * a routed-prefix move is one `ip -6 -batch -` whose own work is a fraction
   * of a millisecond: the spare moves that fork to after the exec, when the
   * agent is idle, instead of between a push and its route.
   *
   * Why not write the routes through a resident `ip` (Host.ask): a
   * long-lived ip caches each interface name it resolves with its index
   * (iproute2's ll_map), and a route by dev name must go to the interface of
   * that name now, not to whatever holds the index the name had (an
   * interface deleted and added again gets a new one, and the old index can
   * be taken by another). A spare has read nothing and so resolved nothing
   * when it is given its input, as a fresh spawn; and it is used for one
   * exec only, so the names it resolves die with it
   * (test/lab/spare-command.test.ts shows both on the real kernel).
   */
  exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    let command: StartedCommand;
    try {
      command = (options.spare === true ? this.takeSpare(argv) : null) ?? new StartedCommand(argv);
    } catch (error) {
      return Promise.reject(error instanceof ExecError ? error : new ExecError(argv, null, (error as Error).message, error));
    }
    const result = command.run(options);
    if (options.spare === true) {
      const prepare = () => this.prepareSpare(argv);
      void result.then(prepare, prepare);
    }
    return result;
  }

  // The waiting spare of argv, taken; null when there is none or it died meanwhile (a fresh spawn then).
  private takeSpare(argv: readonly string[]): StartedCommand | null {
    const key = argv.join('\0');
    const spare = this.spares.get(key);
    this.spares.delete(key);
    if (spare?.isWaiting() === true) return spare;
    // One that cannot be told waiting (no /proc to read, say) is ended, not left behind.
    spare?.close();
    return null;
  }

  // A while after the exec, once the reconcile that ran it has observed, reported and gone idle: the fork blocks the loop.
  private prepareSpare(argv: readonly string[]): void {
    const due = setTimeout(() => {
      this.sparesDue.delete(due);
      const key = argv.join('\0');
      const waiting = this.spares.get(key);
      if (waiting?.isWaiting() === true) return;
      waiting?.close();
      try {
        this.spares.set(key, new StartedCommand(argv));
      } catch {
        // The exec that takes it would fail the same way; it spawns afresh and reports it.
      }
    }, SPARE_DELAY_MS);
    due.unref();
    this.sparesDue.add(due);
  }

  ask(argv: readonly string[], requests: readonly string[], options: AskOptions = {}): Promise<string[]> {
    const key = argv.join('\0');
    let resident = this.residents.get(key);
    if (resident === undefined) {
      resident = new ResidentCommand(argv);
      this.residents.set(key, resident);
    }
    return resident.ask(requests, options.timeoutMs ?? DEFAULT_ASK_TIMEOUT_MS, options.fresh);
  }

  /** Ends the resident commands; a later question starts them again. */
  closeResidents(): void {
    for (const resident of this.residents.values()) resident.close();
  }

  /** Ends the resident commands and the spares; a later question or exec with `spare` starts them again. */
  close(): void {
    this.closeResidents();
    for (const due of this.sparesDue) clearTimeout(due);
    this.sparesDue.clear();
    for (const spare of this.spares.values()) spare.close();
    this.spares.clear();
  }

  watch(argv: readonly string[], onLine: (line: string) => void, onExit: (code: number | null) => void): WatchedCommand {
    const [file, ...args] = argv;
    if (file === undefined) throw new ExecError(argv, null, 'empty argv');
    let isStopped = false;
    let couldNotStart = false;
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!isStopped) onLine(line);
    });
    // A command that cannot start (ENOENT, say) still closes, with a negative errno as its code.
    child.on('error', () => void (couldNotStart = true));
    child.once('close', (code) => {
      if (!isStopped) onExit(couldNotStart ? null : code);
    });
    return {
      stop: () => {
        isStopped = true;
        child.kill('SIGTERM');
      },
    };
  }

  /**
   * A small regular file is read at once, not on the thread pool: an
   * observation reads a dozen configs, pid files and /proc files, where each
   * asynchronous read is four trips to the pool (open, stat, read, close)
   * that wait behind each other and behind the event loop; together they
   * were the last part of an observation to arrive. Anything else (a large
   * file, a FIFO) is read as before, off the event loop.
   */
  async readFile(path: string): Promise<string | null> {
    try {
      const text = readSmallFileAtOnce(path);
      return text !== undefined ? text : await readFile(path, 'utf8');
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  /**
   * Writes a temporary file, syncs it, renames it over `path` and syncs the
   * directory. Only the two syncs wait for the disk, so only they go to the
   * thread pool; the rest are calls that return at once (the page cache, a
   * directory entry). A push's first step waits for this write while the
   * event loop renders and observes, and every trip to the pool waits for
   * the loop to take its answer, so a chain of eleven trips ended several
   * ms after the observation it ran beside.
   */
  async writeFileAtomic(path: string, content: string, mode = 0o644): Promise<void> {
    const directory = dirname(path);
    const temp = join(directory, `.${basename(path)}.${process.pid}.tmp`);
    const isDurable = await this.isOnDisk(directory);
    try {
      const fd = openTempSync(temp, mode);
      try {
        writeFileSync(fd, content);
        if (isDurable) await fsyncFd(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, path);
    } catch (error) {
      rmSync(temp, { force: true, recursive: true });
      throw error;
    }
    // The rename is durable only once the directory entry is on disk.
    if (isDurable) await fsyncPath(directory);
  }

  /** Whether a directory's files outlive a power cut; tmpfs (the runtime directory) has no disk to sync. */
  private async isOnDisk(directory: string): Promise<boolean> {
    let known = this.onDisk.get(directory);
    if (known === undefined) {
      await mkdir(directory, { recursive: true });
      const type = await statfs(directory).then((stats) => stats.type, () => null);
      known = type !== TMPFS_MAGIC && type !== RAMFS_MAGIC;
      this.onDisk.set(directory, known);
    }
    return known;
  }

  async removeFile(path: string): Promise<void> {
    await rm(path, { force: true });
  }

  async listDirectory(path: string): Promise<string[]> {
    try {
      return await readdir(path);
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
  }

  /**
   * Reads them synchronously, after the questions already asked have gone
   * out: /proc/sys files are small and never block, and reading a resync's
   * worth of them through fs/promises (open, stat, read, close each a
   * thread-pool round trip) took several times as long (bench/README.md).
   */
  async readSysctls(keys: readonly string[]): Promise<Map<string, string | null>> {
    await new Promise((resolve) => setImmediate(resolve));
    // A key of an interface that is gone is null without a failed open (an exception each): one listing tells.
    const listings = new Map<string, ReadonlySet<string>>();
    const isListed = (path: string) => {
      const parent = dirname(path);
      const grandparent = dirname(parent);
      let names = listings.get(grandparent);
      if (names === undefined) {
        names = new Set(listDirectorySync(grandparent));
        listings.set(grandparent, names);
      }
      return names.has(basename(parent));
    };
    const values = new Map<string, string | null>();
    for (const key of keys) {
      const path = sysctlPath(key);
      values.set(key, isListed(path) ? (readSmallFileAtOnce(path)?.trim() ?? null) : null);
    }
    return values;
  }

  async writeSysctl(key: string, value: string): Promise<void> {
    await writeFile(sysctlPath(key), `${value}\n`, { flag: 'r+' });
  }

  signal(pid: number, signal: NodeJS.Signals): boolean {
    try {
      process.kill(pid, signal);
      return true;
    } catch (error) {
      // Only "no such process" is an answer; EPERM (say, a missing CAP_KILL) is a failure to report.
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
      throw error;
    }
  }

  spawnDaemon(argv: readonly string[]): Promise<number> {
    const [file, ...args] = argv;
    if (file === undefined) return Promise.reject(new ExecError(argv, null, 'empty argv'));
    return new Promise((resolve, reject) => {
      const child = spawn(file, args, { detached: true, stdio: 'ignore' });
      child.once('error', (error) => reject(new ExecError(argv, null, error.message, error)));
      // Node still reaps it when it exits, so a dead daemon leaves no zombie behind.
      child.once('spawn', () => {
        child.unref();
        resolve(child.pid!);
      });
    });
  }

  async readCommandLine(pid: number): Promise<string[] | null> {
    const text = await this.readFile(`/proc/${pid}/cmdline`).catch(() => null);
    if (text === null || text.length === 0) return null;
    return text.replace(/\0$/, '').split('\0');
  }
}

function listDirectorySync(path: string): string[] {
  try {
    return readdirSync(path);
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
}

/** Up to this many bytes a regular file is read at once. */
const SMALL_FILE_BYTES = 1 << 20;

/** A regular file of at most SMALL_FILE_BYTES, read at once; null when it does not exist, undefined for anything else. */
function readSmallFileAtOnce(path: string): string | null | undefined {
  let fd: number;
  try {
    // Non-blocking: opening a FIFO must not wait for a writer.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile() || stats.size > SMALL_FILE_BYTES) return undefined;
    // A /proc file says 0 bytes: read to the end, within the bound.
    const chunks: Buffer[] = [];
    let total = 0;
    for (let got = -1; got !== 0; total += got) {
      const chunk = Buffer.allocUnsafe(Math.max(stats.size + 1 - total, 4096));
      got = readSync(fd, chunk, 0, chunk.length, null);
      chunks.push(chunk.subarray(0, got));
      if (total + got > SMALL_FILE_BYTES) return undefined;
    }
    return Buffer.concat(chunks, total).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

function sysctlPath(key: string): string {
  if (!/^[A-Za-z0-9_./-]+$/.test(key) || key.includes('..')) throw new Error(`not a sysctl key: ${key}`);
  return `/proc/sys/${key}`;
}

async function fsyncPath(path: string): Promise<void> {
  const fd = openSync(path, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (error) => (error ? reject(error) : resolve())));
}

/** Opens the temporary file for writing; its directory is made when missing (someone removed it). */
function openTempSync(temp: string, mode: number): number {
  try {
    return openSync(temp, 'w', mode);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    mkdirSync(dirname(temp), { recursive: true });
    return openSync(temp, 'w', mode);
  }
}

function isNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === 'ENOENT';
}
