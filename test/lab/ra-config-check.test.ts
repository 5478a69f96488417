import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deriveDeprecatedPrefixes } from '../../src/daemon/deprecations.js';
import { renderRadvdConf } from '../../src/render/radvd-conf.js';
import { renderFrrConf } from '../../src/render/frr-conf.js';
import { DesiredState } from '../../src/schema/desired-state.js';
import { canRunLab } from './lab-guard.js';

/**
 * Every golden radvd.conf must pass the real `radvd -c`, and every golden
 * frr.conf the real `vtysh -C` (what the agent runs before either changes);
 * a broken one must not, so each check can fail.
 */
const GOLDEN = 'test/golden';
const work = mkdtempSync(join(tmpdir(), 'vr6-ra-check-'));
const configs = readdirSync(GOLDEN)
  .map((name) => join(GOLDEN, name, 'radvd.conf'))
  .filter((path) => readFileSync(path, 'utf8').includes('interface '));

function radvdCheck(content: string): { status: number | null; stderr: string } {
  const path = join(work, 'radvd.conf');
  writeFileSync(path, content, { mode: 0o644 });
  const result = spawnSync('radvd', ['-c', '-C', path, '-m', 'stderr'], { encoding: 'utf8' });
  return { status: result.status, stderr: result.stderr };
}

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The states of the golden case vpc-two-tiers before and after a renumbering that also removes a tier. */
function renumbering() {
  const input = JSON.parse(readFileSync('test/golden/vpc-two-tiers/desired.json', 'utf8'));
  const before = DesiredState.parse(input);
  input.guestNetworks[0].prefix = '2001:db8:3:77::/64';
  input.guestNetworks.pop();
  const after = DesiredState.parse(input);
  return { after, deprecated: deriveDeprecatedPrefixes(before, after, [], 0, 7200) };
}

(canRunLab(['radvd']) ? describe : describe.skip)('golden radvd.conf against the real radvd -c', () => {
  it('has configs to check', () => expect(configs.length).toBeGreaterThanOrEqual(3));

  it.each(configs)('%s passes', (path) => {
    const result = radvdCheck(readFileSync(path, 'utf8'));
    expect(result.status, result.stderr).toBe(0);
  });

  it('passes with prefixes being deprecated, on a kept link and on a link whose network is gone', () => {
    const { after, deprecated } = renumbering();
    const conf = renderRadvdConf(after, deprecated)!;
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

const frrConfigs = readdirSync(GOLDEN).map((name) => join(GOLDEN, name, 'frr.conf'));

function vtyshCheck(content: string): { status: number | null; output: string } {
  // vtysh wants a vtysh.conf in its config dir; the agent does the same in its runtime dir.
  writeFileSync(join(work, 'vtysh.conf'), '');
  const path = join(work, 'frr.conf');
  writeFileSync(path, content, { mode: 0o644 });
  const result = spawnSync('vtysh', ['--config_dir', work, '-C', '-f', path], { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

(canRunLab(['vtysh']) ? describe : describe.skip)('golden frr.conf against the real vtysh -C', () => {
  it('has configs to check', () => expect(frrConfigs.length).toBeGreaterThanOrEqual(3));

  it.each(frrConfigs)('%s passes', (path) => {
    const result = vtyshCheck(readFileSync(path, 'utf8'));
    expect(result.status, result.output).toBe(0);
  });

  it('passes with prefixes being deprecated, on a kept link and on a link whose network is gone', () => {
    const { after, deprecated } = renumbering();
    const conf = renderFrrConf({ ...after, raBackend: 'frr' }, deprecated)!.text;
    expect(conf).toContain(' ipv6 nd ra-lifetime 0\n');
    expect(conf).toContain(' ipv6 nd prefix 2001:db8:3:1::/64 0 0\n');
    const result = vtyshCheck(conf);
    expect(result.status, result.output).toBe(0);
  });

  it('refuses a broken config', () => {
    const broken = readFileSync(frrConfigs[0]!, 'utf8').replace(/ipv6 nd ra-interval \d+/, 'ipv6 nd ra-interval 99999');
    // vtysh exits 2 for a line it refuses; a missing vtysh would give null.
    expect(vtyshCheck(broken).status).toBe(2);
  });
});
