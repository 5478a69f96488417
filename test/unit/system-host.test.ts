import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SystemHost } from '../../src/host/system-host.js';

/** The real machine's /proc/sys, read only: the batch read answers what reading each file answers. */
describe('SystemHost.readSysctls', () => {
  it('answers each key as its /proc/sys file reads, for keys that exist and keys of interfaces that do not', async () => {
    const host = new SystemHost();
    const keys = [
      'net/ipv6/conf/all/forwarding',
      'net/ipv6/conf/lo/disable_ipv6',
      'net/ipv6/conf/default/accept_ra',
      'net/ipv6/conf/vr6-no-such-link/accept_ra',
      'net/ipv6/conf/all/no_such_knob',
      'net/no_such_family/conf/all/forwarding',
    ];
    const batch = await host.readSysctls(keys);
    const oneByOne = new Map(await Promise.all(keys.map(async (key) => [key, (await host.readFile(`/proc/sys/${key}`))?.trim() ?? null] as const)));
    expect(batch).toEqual(oneByOne);
    expect(batch.get('net/ipv6/conf/all/forwarding')).toBe(readFileSync('/proc/sys/net/ipv6/conf/all/forwarding', 'utf8').trim());
    expect(batch.get('net/ipv6/conf/vr6-no-such-link/accept_ra')).toBeNull();
  });

  it('refuses a key that is not a sysctl path', async () => {
    await expect(new SystemHost().readSysctls(['net/../../etc/passwd'])).rejects.toThrow(/not a sysctl key/);
  });
});

describe('SystemHost.listDirectory', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('names files and directories, and nothing for a directory that does not exist', async () => {
    const root = mkdtempSync(join(tmpdir(), 'vr6-list-'));
    dirs.push(root);
    writeFileSync(join(root, 'a'), '');
    mkdirSync(join(root, 'b'));
    const host = new SystemHost();
    expect((await host.listDirectory(root)).sort()).toEqual(['a', 'b']);
    expect(await host.listDirectory(join(root, 'gone'))).toEqual([]);
    expect(await host.listDirectory('/proc')).toContain(String(process.pid));
  });
});

describe('SystemHost.watch', () => {
  /** Resolves with what the watched command printed and its exit code, once it has ended by itself. */
  function watchToEnd(argv: string[]): Promise<{ lines: string[]; code: number | null }> {
    const lines: string[] = [];
    return new Promise((resolve) => void new SystemHost().watch(argv, (line) => lines.push(line), (code) => resolve({ lines, code })));
  }

  it('hands over each line, then the exit code', async () => {
    expect(await watchToEnd(['sh', '-c', 'echo one; echo two; exit 3'])).toEqual({ lines: ['one', 'two'], code: 3 });
  });

  it('reports a command that cannot start as an exit without a code', async () => {
    expect(await watchToEnd(['/nonexistent/vr6-command'])).toEqual({ lines: [], code: null });
  });

  it('ends the command on stop, without reporting an exit', async () => {
    const exits: (number | null)[] = [];
    let stop = () => undefined as void;
    const pid = await new Promise<number>((resolve) => {
      const watched = new SystemHost().watch(['sh', '-c', 'echo $$; exec sleep 30'], (line) => resolve(Number(line)), (code) => exits.push(code));
      stop = () => watched.stop();
    });
    stop();
    const deadline = Date.now() + 5000;
    while (isAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(isAlive(pid)).toBe(false);
    // Another command's whole run gives Node the time to report the first one's close, had it been going to.
    await watchToEnd(['true']);
    expect(exits).toEqual([]);
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A directory of the test's own, made on first use and removed after each test. */
function tempDirs(): () => string {
  let dir: string | null = null;
  afterEach(() => {
    if (dir !== null) rmSync(dir, { recursive: true, force: true });
    dir = null;
  });
  return () => (dir ??= mkdtempSync(join(tmpdir(), 'vr6-host-')));
}

/** Small regular files are read at once, anything else off the event loop: the answer is the file's either way. */
describe('SystemHost.readFile', () => {
  const tempDir = tempDirs();

  it('reads small, empty, large and /proc files as they are, and a missing one as null', async () => {
    const dir = tempDir();
    const host = new SystemHost();
    const files = { small: 'interface eth1 { };\n', empty: '', large: 'x'.repeat((1 << 20) + 17), multibyte: 'ü'.repeat(3000) };
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    for (const [name, content] of Object.entries(files)) expect(await host.readFile(join(dir, name))).toBe(content);
    expect(await host.readFile('/proc/self/status')).toMatch(/^Name:/);
    expect(await host.readFile('/proc/self/cmdline')).toBe(readFileSync('/proc/self/cmdline', 'utf8'));
    expect(await host.readFile(join(dir, 'missing'))).toBeNull();
  });

  it('does not block the event loop on a FIFO: it waits for the writer off the loop', async () => {
    const dir = tempDir();
    const fifo = join(dir, 'fifo');
    spawnSync('mkfifo', [fifo]);
    const host = new SystemHost();
    const reading = host.readFile(fifo);
    // The loop still runs: this timer fires and writes what the read then returns.
    await new Promise((resolve) => setTimeout(resolve, 20));
    writeFileSync(fifo, 'through the fifo\n');
    expect(await reading).toBe('through the fifo\n');
  });
});

describe('SystemHost.writeFileAtomic', () => {
  const tempDir = tempDirs();

  it('makes a missing directory, replaces the file whole with its mode, and leaves no temporary file', async () => {
    const dir = tempDir();
    const host = new SystemHost();
    const path = join(dir, 'state/deeper/desired.json');
    await host.writeFileAtomic(path, 'first\n', 0o600);
    await host.writeFileAtomic(path, 'second\n', 0o600);
    expect(readFileSync(path, 'utf8')).toBe('second\n');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(dir, 'state/deeper'))).toEqual(['desired.json']);
  });

  it('keeps the old file when the write fails', async () => {
    const dir = tempDir();
    const host = new SystemHost();
    const path = join(dir, 'desired.json');
    await host.writeFileAtomic(path, 'kept\n');
    // A directory where the temporary file would go: the write fails.
    mkdirSync(join(dir, `.desired.json.${process.pid}.tmp`));
    await expect(host.writeFileAtomic(path, 'lost\n')).rejects.toThrow();
    expect(readFileSync(path, 'utf8')).toBe('kept\n');
  });
});
