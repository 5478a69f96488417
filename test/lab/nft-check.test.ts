import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * Every golden ruleset.json must pass the real `nft -j -c`, run inside a
 * throwaway network namespace (`unshare --net`) so the host's own ruleset is
 * never touched. A broken document must fail, so this test can fail too.
 * Skipped without root or nft on a developer machine; under CI=true it fails.
 */

const GOLDEN_DIR = fileURLToPath(new URL('../golden/', import.meta.url));
const isCi = process.env.CI === 'true';

function findMissingPrerequisite(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root for unshare --net and nft';
  const nft = spawnSync('nft', ['--version'], { encoding: 'utf8' });
  if (nft.error || nft.status !== 0) return 'nft is not installed';
  const unshare = spawnSync('unshare', ['--net', 'true'], { encoding: 'utf8' });
  if (unshare.error || unshare.status !== 0) return `unshare --net fails: ${unshare.stderr ?? unshare.error?.message}`;
  return undefined;
}

const missingPrerequisite = findMissingPrerequisite();
// Skipping is allowed on a developer machine, never in CI.
const labDescribe = missingPrerequisite === undefined || isCi ? describe : describe.skip;

interface NftResult {
  status: number | null;
  stderr: string;
  stdout: string;
}

// argv only, no shell for the document path; `sh -c` gets its paths as $1, $2.
function runInThrowawayNetns(argv: string[]): NftResult {
  const result = spawnSync('unshare', ['--net', ...argv], { encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stderr: result.stderr ?? String(result.error), stdout: result.stdout ?? '' };
}

function listRulesetFiles(): [string, string][] {
  return readdirSync(GOLDEN_DIR, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(GOLDEN_DIR, entry.name, 'ruleset.json')))
    .map((entry): [string, string] => [entry.name, join(GOLDEN_DIR, entry.name, 'ruleset.json')])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

labDescribe('golden rulesets against nft -j -c', () => {
  const workDir = mkdtempSync(join(tmpdir(), 'vr6-nft-check-'));
  afterAll(() => rmSync(workDir, { recursive: true, force: true }));
  const cases = listRulesetFiles();

  it('has root, nft and unshare', () => {
    expect(missingPrerequisite, 'CI=true forbids skipping').toBeUndefined();
  });

  it('finds golden rulesets to check', () => {
    expect(cases.length).toBeGreaterThanOrEqual(3);
  });

  it.each(cases)('%s passes nft -j -c', (_name, file) => {
    const result = runInThrowawayNetns(['nft', '-j', '-c', '-f', file]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('rejects a broken document (negative control)', () => {
    const [first] = cases;
    if (first === undefined) throw new Error('no golden ruleset');
    const document = JSON.parse(readFileSync(first[1], 'utf8')) as { nftables: object[] };
    document.nftables.push({
      add: { rule: { family: 'ip6', table: 'vr6_agent', chain: 'forward', expr: [{ jump: { target: 'no_such_chain' } }] } },
    });
    const broken = join(workDir, 'broken.json');
    writeFileSync(broken, JSON.stringify(document));
    const result = runInThrowawayNetns(['nft', '-j', '-c', '-f', broken]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/No such file or directory/);
  });

  it('loads twice over itself and leaves other tables alone', () => {
    const [, file] = cases.find(([name]) => name === 'vpc-two-tiers') ?? cases[0] ?? [];
    if (file === undefined) throw new Error('no golden ruleset');
    const other = join(workDir, 'other.nft');
    writeFileSync(other, 'table ip6 other {\n  chain c {\n    type filter hook input priority 10;\n  }\n}\n');
    const script = 'nft -f "$1" && nft -j -f "$2" && nft -j -f "$2" && nft list tables';
    const result = runInThrowawayNetns(['sh', '-c', script, 'sh', other, file]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toBe('table ip6 other\ntable ip6 vr6_agent\n');
  });
});
