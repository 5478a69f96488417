import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readlinkSync } from 'node:fs';

/**
 * How the benchmark runs a command and what it records of it: wall time from
 * spawn to exit as Node sees it, and the child's peak resident set (VmHWM,
 * from getrusage(RUSAGE_CHILDREN).ru_maxrss as GNU time prints it).
 */

/** One finished command. `maxRssKb` is null when /usr/bin/time is missing. */
export interface Measured {
  readonly wallMs: number;
  readonly maxRssKb: number | null;
  readonly stdout: string;
}

/** A command that exited non-zero; carries argv and stderr. */
export class CommandError extends Error {
  constructor(readonly argv: readonly string[], readonly exitCode: number | null, readonly stderr: string) {
    super(`${argv.join(' ')}: exit ${exitCode}: ${stderr.trim().slice(0, 600)}`);
    this.name = 'CommandError';
  }
}

const TIME = '/usr/bin/time';
const RSS_MARK = 'VR6BENCH_MAXRSS_KB=';
const hasTime = existsSync(TIME);

/** Whether peak memory can be measured (GNU time, Debian package `time`). */
export function canMeasureMemory(): boolean {
  return hasTime;
}

/**
 * Runs argv to completion, wrapped in GNU time for its peak RSS. The wall
 * time includes the wrapper's own fork and exec (see calibrateWrapper).
 */
export function runMeasured(argv: readonly string[], options: { input?: string; allowFailure?: boolean } = {}): Measured & { exitCode: number | null; stderr: string } {
  const wrapped = hasTime ? [TIME, '-f', `${RSS_MARK}%M`, ...argv] : [...argv];
  const [file, ...args] = wrapped;
  if (file === undefined) throw new Error('empty argv');
  const started = process.hrtime.bigint();
  const result = spawnSync(file, args, { input: options.input ?? '', encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.error) throw result.error;
  let stderr = result.stderr;
  let maxRssKb: number | null = null;
  const at = stderr.lastIndexOf(RSS_MARK);
  if (at >= 0) {
    maxRssKb = Number.parseInt(stderr.slice(at + RSS_MARK.length), 10);
    stderr = stderr.slice(0, at);
  }
  // GNU time reports a non-zero exit on a line of its own before the format line.
  stderr = stderr.replace(/^Command exited with non-zero status \d+\n/m, '');
  if (result.status !== 0 && options.allowFailure !== true) throw new CommandError(argv, result.status, stderr);
  return { wallMs, maxRssKb, stdout: result.stdout, exitCode: result.status, stderr };
}

/** Like runMeasured, without blocking: for running several nft processes at once. */
export function runMeasuredAsync(argv: readonly string[]): Promise<Measured> {
  const wrapped = hasTime ? [TIME, '-f', `${RSS_MARK}%M`, ...argv] : [...argv];
  const [file, ...args] = wrapped;
  if (file === undefined) return Promise.reject(new Error('empty argv'));
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      const at = stderr.lastIndexOf(RSS_MARK);
      const maxRssKb = at >= 0 ? Number.parseInt(stderr.slice(at + RSS_MARK.length), 10) : null;
      if (code !== 0) reject(new CommandError(argv, code, at >= 0 ? stderr.slice(0, at) : stderr));
      else resolve({ wallMs, maxRssKb, stdout });
    });
  });
}

/** `nft ARGS`, measured. */
export function runNft(args: readonly string[], options: { input?: string; allowFailure?: boolean } = {}) {
  return runMeasured(['nft', ...args], options);
}

/** The cost of the GNU time wrapper itself: `time true` against a bare `true`, median of a few. */
export function calibrateWrapper(): { bareMs: number; wrappedMs: number } {
  const sample = (argv: string[]) => {
    const times: number[] = [];
    for (let i = 0; i < 15; i++) {
      const [file, ...args] = argv;
      const started = process.hrtime.bigint();
      spawnSync(file ?? 'true', args);
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)] ?? 0;
  };
  return { bareMs: sample(['true']), wrappedMs: hasTime ? sample([TIME, '-f', '%M', 'true']) : sample(['true']) };
}

/** The network namespace of this process, as the kernel names it (`net:[4026531840]`). */
export function readNetNamespace(): string {
  return readlinkSync('/proc/self/ns/net');
}
