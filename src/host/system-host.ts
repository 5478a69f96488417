import { execFile, spawn } from 'node:child_process';
import { mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ExecError, type ExecOptions, type ExecResult, type Host } from './host.js';

const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

/** The real machine: child_process, the file system and /proc/sys. */
export class SystemHost implements Host {
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

  async readFile(path: string): Promise<string | null> {
    try {
      return await readFile(path, 'utf8');
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  async writeFileAtomic(path: string, content: string, mode = 0o644): Promise<void> {
    const directory = dirname(path);
    await mkdir(directory, { recursive: true });
    const temp = join(directory, `.${basename(path)}.${process.pid}.tmp`);
    try {
      await writeFile(temp, content, { mode });
      await fsyncPath(temp);
      await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    // The rename is durable only once the directory entry is on disk.
    await fsyncPath(directory);
  }

  async removeFile(path: string): Promise<void> {
    await rm(path, { force: true });
  }

  async readSysctl(key: string): Promise<string | null> {
    const text = await this.readFile(sysctlPath(key));
    return text === null ? null : text.trim();
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

function sysctlPath(key: string): string {
  if (!/^[A-Za-z0-9_./-]+$/.test(key) || key.includes('..')) throw new Error(`not a sysctl key: ${key}`);
  return `/proc/sys/${key}`;
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === 'ENOENT';
}
