import { spawnSync } from 'node:child_process';

const TOOLS = ['ip', 'nft', 'radvd', 'ping', 'rdisc6', 'nc'];

/** Why the lab cannot run on this machine, or undefined when it can. */
export function findLabObstacle(tools: readonly string[] = TOOLS): string | undefined {
  if (process.getuid?.() !== 0) return 'the lab needs root (network namespaces, nft, sysctls)';
  const missing = tools.filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
  return missing.length > 0 ? `missing tools: ${missing.join(', ')} (make deps installs them)` : undefined;
}

/**
 * Whether lab tests run: on a developer machine they skip when the lab cannot
 * run; under CI=true they always run, so a missing prerequisite fails loudly
 * instead of skipping silently.
 */
export function canRunLab(tools?: readonly string[]): boolean {
  const obstacle = findLabObstacle(tools);
  if (obstacle !== undefined && process.env.CI !== 'true') {
    console.warn(`skipping lab tests: ${obstacle}`);
    return false;
  }
  return true;
}
