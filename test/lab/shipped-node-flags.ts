import { readFileSync } from 'node:fs';

/**
 * The Node flags the package's wrapper (debian/bin/vr6-agent) starts the
 * agent with, so the labs and benches run the agent's process as it ships.
 * The path is relative to the repository root, where tests and benches run.
 */
export function readShippedNodeFlags(wrapperPath = 'debian/bin/vr6-agent'): string[] {
  const match = /^exec \/usr\/bin\/node (.*?)\s*\/usr\/lib\/vr6-agent\/vr6-agent\.js/m.exec(readFileSync(wrapperPath, 'utf8'));
  if (match === null) throw new Error(`no node command line in ${wrapperPath}`);
  return match[1]!.split(/\s+/).filter((flag) => flag !== '');
}
