import { execFile, spawn } from 'node:child_process';
import { closeSync, constants, fstatSync, fsync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { ExecError, type AskOptions, type ExecOptions, type ExecResult, type Host, type WatchedCommand } from './host.js';
import { ResidentCommand } from './resident-command.js';

const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
const DEFAULT_ASK_TIMEOUT_MS = 5_000;
// statfs(2) f_type of the file systems that live in memory only.
const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;

/** The real machine: child_process, the file system and /proc/sys. */
export class SystemHost implements Host {
  private readonly residents = new Map<string, ResidentCommand>();
  private readonly onDisk = new Map<string, boolean>();

  exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const [file, ...args] = argv;
    if (file === undefined) return Promise.reject(new ExecError(argv, null, 'empty argv'));
    return new Promise((resolve, reject) => {
      const child = execFile(
        file,
        args,
        { timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS, maxBuffer: MAX_OUTPUT_BYTES, encoding: 'utf8' },
        (error, stdout, stderr) => {
          if (error === null) return resolve({ stdout, stderr, exitCode: 0 });
          const code = typeof error.code === 'number' ? error.code : null;
          reject(new ExecError(argv, code, stderr || error.message, error));
        },
      );
      // EPIPE when a command exits before reading its input is reported through the exit status.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(options.input ?? '');
    });
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
      return readSmallFileAtOnce(path) ?? (await readFile(path, 'utf8'));
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
    const buffer = Buffer.alloc(4096);
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
      values.set(key, isListed(path) ? (readSmallFileSync(path, buffer)?.trim() ?? null) : null);
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

/** A regular file of at most SMALL_FILE_BYTES, read at once; undefined for anything else. */
function readSmallFileAtOnce(path: string): string | undefined {
  // Non-blocking: opening a FIFO must not wait for a writer.
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
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

// A file of at most buffer.length bytes, or null when it does not exist.
function readSmallFileSync(path: string, buffer: Buffer): string | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
  try {
    const length = readSync(fd, buffer, 0, buffer.length, 0);
    return buffer.toString('utf8', 0, length);
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
