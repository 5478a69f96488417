import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The real tools' verdict on rendered configs, in batches where the tool
 * allows it: what the agent itself runs before a config goes live
 * (`nft -j -c`, `radvd -c`, `vtysh -C`, `keepalived -t`). A refused batch is checked one
 * config at a time, so each refusal names its config.
 */

/** A config a tool refused, with the tool's words. */
export interface ConfigRefusal {
  readonly tool: string;
  readonly config: string;
  readonly output: string;
}

interface ToolCheck {
  readonly tool: string;
  /** How many configs one run may check; 1 when the tool cannot take several at once. */
  readonly batchSize: number;
  /** Joins configs into the content of one file. */
  readonly join: (configs: readonly string[]) => string;
  /** The command that checks the file at `path`, which holds `configs`. */
  readonly argv: (path: string, configs: readonly string[]) => string[];
}

// Each document adds, deletes and re-adds our table: several in one transaction stay independent.
const NFT: ToolCheck = {
  tool: 'nft',
  batchSize: 100,
  join: (docs) => JSON.stringify({ nftables: docs.flatMap((doc) => (JSON.parse(doc) as { nftables: unknown[] }).nftables) }),
  // An empty network namespace: the check never sees, nor depends on, the host's ruleset.
  argv: (path) => ['unshare', '--net', 'nft', '-j', '-c', '-f', path],
};

// radvd refuses a second block for the same interface, so one config per run.
const RADVD: ToolCheck = { tool: 'radvd', batchSize: 1, join: (confs) => confs.join('\n'), argv: (path) => ['radvd', '-c', '-C', path, '-m', 'stderr'] };

/** vtysh -C checks line by line and every config ends back at the top node, so configs can follow each other. */
function vtyshCheck(work: string): ToolCheck {
  writeFileSync(join(work, 'vtysh.conf'), '');
  return { tool: 'vtysh', batchSize: 50, join: (confs) => confs.join('\n'), argv: (path) => ['vtysh', '--config_dir', work, '-C', '-f', path] };
}

/**
 * `keepalived -t` wants each interface the config names to exist: it runs in
 * an empty network namespace of its own, where they are made as bridges
 * (this kernel has no dummy driver). The names go to the shell as arguments,
 * never into its script. One config per run: each needs its own interfaces.
 */
const KEEPALIVED: ToolCheck = {
  tool: 'keepalived',
  batchSize: 1,
  join: (confs) => confs.join('\n'),
  argv: (path, [conf]) => {
    const names = [...new Set([...(conf ?? '').matchAll(/^\s*interface (\S+)$/gm)].map((m) => m[1]!))];
    const script = 'for name in "$@"; do ip link add name "$name" type bridge || exit 9; done; exec keepalived -t -f "$0"';
    return ['unshare', '--net', 'sh', '-c', script, path, ...names];
  },
};

function runCheck(check: ToolCheck, work: string, configs: readonly string[]): { ok: boolean; output: string } {
  const path = join(work, `check-${check.tool}.conf`);
  writeFileSync(path, check.join(configs), { mode: 0o644 });
  const [command, ...args] = check.argv(path, configs);
  const result = spawnSync(command!, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}` };
}

function checkAll(check: ToolCheck, work: string, configs: readonly string[]): { runs: number; refusals: ConfigRefusal[] } {
  let runs = 0;
  const refusals: ConfigRefusal[] = [];
  for (let start = 0; start < configs.length; start += check.batchSize) {
    const batch = configs.slice(start, start + check.batchSize);
    runs++;
    const verdict = runCheck(check, work, batch);
    if (verdict.ok) continue;
    if (batch.length === 1) {
      refusals.push({ tool: check.tool, config: batch[0]!, output: verdict.output });
      continue;
    }
    for (const config of batch) {
      runs++;
      const single = runCheck(check, work, [config]);
      if (!single.ok) refusals.push({ tool: check.tool, config, output: single.output });
    }
  }
  return { runs, refusals };
}

/** Distinct rendered configs, by tool. */
export interface RenderedConfigs {
  readonly nft: Set<string>;
  readonly radvd: Set<string>;
  readonly vtysh: Set<string>;
  readonly keepalived: Set<string>;
}

/** Checks every config with its tool; `work` is a scratch directory. */
export function checkRenderedConfigs(configs: RenderedConfigs, work: string): { runs: number; refusals: ConfigRefusal[] } {
  const results = [
    checkAll(NFT, work, [...configs.nft]),
    checkAll(RADVD, work, [...configs.radvd]),
    checkAll(vtyshCheck(work), work, [...configs.vtysh]),
    checkAll(KEEPALIVED, work, [...configs.keepalived]),
  ];
  return { runs: results.reduce((sum, r) => sum + r.runs, 0), refusals: results.flatMap((r) => r.refusals) };
}
