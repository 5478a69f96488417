import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deriveDeprecatedPrefixes } from '../../src/render/deprecated-prefixes.js';
import { renderRadvdConf } from '../../src/render/radvd-conf.js';
import { DesiredState } from '../../src/schema/desired-state.js';
import { canRunLab } from './lab-guard.js';

/** Every golden radvd.conf must pass the real `radvd -c`; a broken one must not, so the check can fail. */
const GOLDEN = 'test/golden';
const work = mkdtempSync(join(tmpdir(), 'vr6-radvd-check-'));
const configs = readdirSync(GOLDEN)
  .map((name) => join(GOLDEN, name, 'radvd.conf'))
  .filter((path) => readFileSync(path, 'utf8').includes('interface '));

function radvdCheck(content: string): { status: number | null; stderr: string } {
  const path = join(work, 'radvd.conf');
  writeFileSync(path, content, { mode: 0o644 });
  const result = spawnSync('radvd', ['-c', '-C', path, '-m', 'stderr'], { encoding: 'utf8' });
  return { status: result.status, stderr: result.stderr };
}

(canRunLab(['radvd']) ? describe : describe.skip)('golden radvd.conf against the real radvd -c', () => {
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('has configs to check', () => expect(configs.length).toBeGreaterThanOrEqual(3));

  it.each(configs)('%s passes', (path) => {
    const result = radvdCheck(readFileSync(path, 'utf8'));
    expect(result.status, result.stderr).toBe(0);
  });

  it('passes with prefixes being deprecated, on a kept link and on a link whose network is gone', () => {
    const input = JSON.parse(readFileSync('test/golden/vpc-two-tiers/desired.json', 'utf8'));
    const before = DesiredState.parse(input);
    input.guestNetworks[0].prefix = '2001:db8:3:77::/64';
    input.guestNetworks.pop();
    const after = DesiredState.parse(input);
    const conf = renderRadvdConf(after, deriveDeprecatedPrefixes(before, after, [], 0, 7200))!;
    expect(conf).toContain('AdvDefaultLifetime 0;');
    expect(conf).toContain('AdvValidLifetime 0;');
    const result = radvdCheck(conf);
    expect(result.status, result.stderr).toBe(0);
  });

  it('refuses a broken config', () => {
    const broken = readFileSync(configs[0]!, 'utf8').replace('AdvSendAdvert on;', 'AdvSendAdvert maybe;');
    // Exit 1 is radvd's verdict; a missing radvd would give null, not 1.
    expect(radvdCheck(broken).status).toBe(1);
  });
});
