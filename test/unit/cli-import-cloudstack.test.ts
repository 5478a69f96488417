import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT, runCli, type CliIo } from '../../src/cli/run.js';
import { DesiredState } from '../../src/schema/desired-state.js';
import { FIXTURE_DIRS, readFixture, renderDatabag } from '../support/cloudstack-fixtures.js';

function capture(): CliIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    write: (text: string) => void (io.out += text),
    writeError: (text: string) => void (io.err += text),
    readStdin: async () => '',
    env: {},
    now: () => 0,
  };
  return io;
}

describe('vr6ctl import-cloudstack', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vr6-import-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the desired state a directory of merged databags gives, exit 0, with no agent running', async () => {
    const io = capture();
    expect(await runCli(['--socket', join(dir, 'none.sock'), 'import-cloudstack', FIXTURE_DIRS.vpc], io)).toBe(EXIT.ok);
    const spec = JSON.parse(io.out);
    expect(DesiredState.safeParse(spec).success).toBe(true);
    expect(spec.router).toEqual({ id: 'r-55-VM', kind: 'vpc' });
  });

  it('exits 1 naming the file and the path of a bad databag', async () => {
    const bags = readFixture('isolated');
    bags.cmdline.config.eth0ip6prelen = '56';
    for (const [name, bag] of Object.entries(bags)) writeFileSync(join(dir, `${name}.json`), renderDatabag(bag));
    writeFileSync(join(dir, 'ipv6firewallrules.json'), '{"0": {"id": 0,');
    const io = capture();
    expect(await runCli(['import-cloudstack', dir], io)).toBe(EXIT.failed);
    expect(io.out).toBe('');
    expect(io.err).toMatch(/^ipv6firewallrules\.json: \$: is not JSON: /);
    writeFileSync(join(dir, 'ipv6firewallrules.json'), renderDatabag(bags.ipv6firewallrules));
    const again = capture();
    expect(await runCli(['import-cloudstack', dir], again)).toBe(EXIT.failed);
    expect(again.err).toBe('cmdline.json: $.config.eth0ip6prelen: must be a /64: SLAAC needs a 64-bit interface identifier (as $.guestNetworks[0].prefix)\n');
  });

  it("maps a redundant router with the sync link the agent config names, and refuses it without one", async () => {
    const config = join(dir, 'agent.json');
    const noConfig = capture();
    expect(await runCli(['import-cloudstack', '--config', join(dir, 'absent.json'), FIXTURE_DIRS.vpcPair], noConfig)).toBe(EXIT.failed);
    expect(noConfig.err).toMatch(/^cmdline\.json: \$\.config\.redundant_router: .*sync link/);
    writeFileSync(config, JSON.stringify({ source: 'cloudstack', cloudstack: { pair: { peer: { interface: 'eth9', localAddress: 'fd00:5::1/64', address: 'fd00:5::2' } } } }));
    const io = capture();
    expect(await runCli(['import-cloudstack', '--config', config, FIXTURE_DIRS.vpcPair], io)).toBe(EXIT.ok);
    expect(JSON.parse(io.out).redundancy).toMatchObject({ vrrpId: 55, peer: { interface: 'eth9', localAddress: 'fd00:5::1/64' } });
    writeFileSync(config, JSON.stringify({ cloudstack: { pair: { peer: { interface: 'eth9' } } } }));
    const bad = capture();
    expect(await runCli(['import-cloudstack', '--config', config, FIXTURE_DIRS.vpcPair], bad)).toBe(EXIT.failed);
    expect(bad.err).toContain(`${config}: $.cloudstack.pair.peer.localAddress: `);
  });

  it('is a usage error without exactly one directory', async () => {
    expect(await runCli(['import-cloudstack'], capture())).toBe(EXIT.usage);
  });
});
