import { basename, dirname, join } from 'node:path';
import type { Host } from '../host/host.js';
import { fileLayoutOf } from '../model/file-layout.js';
import type { AgentConfig } from '../schema/agent-config.js';

/**
 * Whether a directory entry is a temp file of an atomic write that an
 * earlier agent started and never finished (SystemHost.writeFileAtomic names
 * them `.<file>.<pid>.tmp`; a SIGKILL between the write and the rename leaves
 * one). `names`: the files whose temp files count; null means any name (for
 * the agent's own directories). The running agent's own PID never counts.
 */
export function isLeftoverTempFile(entry: string, names: ReadonlySet<string> | null, selfPid: number): boolean {
  const match = /^\.(.+)\.(\d+)\.tmp$/.exec(entry);
  if (match === null || Number(match[2]) === selfPid) return false;
  return names === null || names.has(match[1] ?? '');
}

/**
 * The directories the agent writes into, with the names that are its own
 * there: everything in the state and runtime directories (and the vtysh
 * check directory inside it); only the agent's own files where it shares
 * a directory with others (FRR's run directory, interfaces.d, radvd.conf's).
 */
export function listWrittenDirectories(config: AgentConfig): Map<string, ReadonlySet<string> | null> {
  const { paths } = config;
  const { frr } = fileLayoutOf(config);
  const shared: [string, string][] = [
    [paths.frrRunDir, basename(frr.config)],
    [dirname(paths.interfacesFile), basename(paths.interfacesFile)],
    [dirname(paths.radvdConfig), basename(paths.radvdConfig)],
  ];
  const directories = new Map<string, Set<string> | null>([
    [paths.stateDir, null],
    [paths.runtimeDir, null],
    [frr.checkDir, null],
  ]);
  for (const [directory, name] of shared) {
    const names = directories.get(directory);
    if (names === null) continue;
    directories.set(directory, new Set([...(names ?? []), name]));
  }
  return directories;
}

/**
 * The files the agent writes and removes again: the config checks'
 * candidates and a staged load's documents. A kill in between leaves them.
 */
export function listCheckCandidates(config: AgentConfig): string[] {
  const layout = fileLayoutOf(config);
  return [layout.radvdCheck, layout.frr.checkConfig, ...layout.rulesetStages];
}

/**
 * Removes the temp files and check candidates earlier agents left behind;
 * returns their paths. Run at start, before the first write: none of them
 * is ever read, but they are debris that would pile up over crashes.
 */
export async function sweepLeftoverFiles(host: Host, config: AgentConfig, selfPid = process.pid): Promise<string[]> {
  // A directory that cannot be listed has nothing to sweep.
  const list = (directory: string) => host.listDirectory(directory).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const path of listCheckCandidates(config)) {
    if (!(await list(dirname(path))).includes(basename(path))) continue;
    if (await host.removeFile(path).then(() => true, () => false)) removed.push(path);
  }
  for (const [directory, names] of listWrittenDirectories(config)) {
    for (const entry of (await list(directory)).filter((name) => isLeftoverTempFile(name, names, selfPid))) {
      const path = join(directory, entry);
      await host.removeFile(path);
      removed.push(path);
    }
  }
  return removed;
}
