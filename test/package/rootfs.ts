import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { runCommand } from '../lab/netns.js';

/** What the test container is made of: Debian 12 plus what the VR image has that the agent uses. */
export const ROOTFS_SUITE = 'bookworm';
export const ROOTFS_PACKAGES = ['systemd', 'systemd-sysv', 'dbus', 'nodejs', 'nftables', 'radvd', 'frr', 'iproute2', 'netbase', 'ndisc6', 'man-db', 'procps'];

/** Where cached root filesystems live; outside the repository so a fresh clone reuses them. */
export const DEFAULT_CACHE_DIR = '/var/cache/vr6-agent-test';

/**
 * The Debian mirror this machine's apt uses (deb822 `URIs:` or a one-line
 * `deb` entry for the suite), so debootstrap fetches from the same registry.
 */
export function readDebianMirror(): string {
  const candidates = ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list'];
  for (const path of candidates) {
    if (!existsSync(path)) continue;
    const text = readFileSync(path, 'utf8');
    for (const stanza of text.split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
      const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1]?.split(/\s+/) ?? [];
      if (uri !== undefined && suites.includes(ROOTFS_SUITE)) return uri;
    }
    const line = new RegExp(`^deb\\s+(?:\\[[^\\]]*\\]\\s+)?(\\S+)\\s+${ROOTFS_SUITE}\\s`, 'm').exec(text);
    if (line?.[1] !== undefined) return line[1];
  }
  return 'http://deb.debian.org/debian';
}

/** A cached, pristine root filesystem; never booted itself (each run boots a copy). */
export interface CachedRootfs {
  readonly path: string;
  readonly wasCached: boolean;
  readonly buildMs: number;
}

/**
 * Returns the cached rootfs for this suite, package list and mirror, running
 * debootstrap (minbase, ~1.5–2 min) only when it is missing. The build goes to a
 * temp directory renamed into place at the end, so an interrupted build never
 * leaves a half rootfs that a later run would trust.
 */
export async function ensureRootfs(cacheDir: string, log: (line: string) => void): Promise<CachedRootfs> {
  const mirror = readDebianMirror();
  const key = createHash('sha256').update(JSON.stringify([ROOTFS_SUITE, ROOTFS_PACKAGES, mirror])).digest('hex').slice(0, 12);
  const path = join(cacheDir, `${ROOTFS_SUITE}-${key}`);
  if (existsSync(join(path, 'usr/bin/node'))) return { path, wasCached: true, buildMs: 0 };
  mkdirSync(cacheDir, { recursive: true });
  const temp = join(cacheDir, `.build-${process.pid}`);
  rmSync(temp, { recursive: true, force: true });
  log(`debootstrap ${ROOTFS_SUITE} from ${mirror} into ${path} (not cached yet)`);
  const started = Date.now();
  try {
    const argv = ['debootstrap', '--variant=minbase', `--include=${ROOTFS_PACKAGES.join(',')}`, ROOTFS_SUITE, temp, mirror];
    await runCommand(argv, { timeoutMs: 15 * 60_000 });
    rmSync(path, { recursive: true, force: true });
    renameSync(temp, path);
    // An older package list or mirror left its own rootfs; only this one is used from now on.
    for (const entry of readdirSync(cacheDir)) {
      if (entry.startsWith(`${ROOTFS_SUITE}-`) && entry !== basename(path)) rmSync(join(cacheDir, entry), { recursive: true, force: true });
    }
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
  return { path, wasCached: false, buildMs: Date.now() - started };
}
