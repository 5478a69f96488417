import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryZebra } from '../support/memory-zebra.js';
import { canRunLab } from './lab-guard.js';
import { Lab, runCommand, waitFor } from './netns.js';

/**
 * The unit tests' model of zebra (test/support/memory-zebra.ts) against the
 * real zebra 8.4: the same command files, one after the other, must leave the
 * same running config and the same vtysh exit code in both. Where they part,
 * the model is wrong, and every unit test of the FRR backend with it.
 */

const START = [
  'frr defaults traditional',
  'ip forwarding',
  'ipv6 forwarding',
  'interface e1',
  // Refused at start (above the 600 s default interval), as the model must refuse it too.
  ' ipv6 nd ra-lifetime 30',
  ' ipv6 nd ra-interval 10',
  ' ipv6 nd prefix 2001:db8:1::/64 86400 9720',
  ' ipv6 nd rdnss 2001:db8:1::53 1200',
  ' ipv6 nd dnssl a.example 1200',
  ' ipv6 nd bogus',
  ' no ipv6 nd suppress-ra',
  'exit',
  '',
].join('\n');

// Each file runs on what the files before it left.
const COMMAND_FILES = [
  // New lifetimes replace the old ones; the "no" forms take lifetimes too; one prefix lifetime alone is incomplete.
  ['ipv6 nd prefix 2001:db8:1::/64 0 0', 'no ipv6 nd prefix 2001:db8:1::/64 86400', 'ipv6 nd rdnss 2001:db8:1::53 20', 'no ipv6 nd dnssl a.example 1200'],
  // Defaults are printed short, 0xffffffff as infinite, a trailing dot dropped.
  ['ipv6 nd prefix 2001:db8:2::/64 2592000 604800', 'ipv6 nd prefix 2001:db8:3::/64 4294967295 4294967295', 'ipv6 nd rdnss 2001:db8:1::54', 'ipv6 nd dnssl Example.COM. 40', 'ipv6 nd mtu 1400', 'ipv6 nd managed-config-flag'],
  // An interval above a configured lifetime is refused, 0 included; a lifetime of 0 is not.
  ['ipv6 nd ra-interval msec 5000', 'ipv6 nd ra-lifetime 0', 'ipv6 nd ra-interval 20'],
  // A lifetime below the interval is refused; vtysh goes on, and exits with the last failure's code.
  ['no ipv6 nd ra-lifetime', 'ipv6 nd ra-interval msec 2500', 'ipv6 nd ra-lifetime 2', 'ipv6 nd other-config-flag', 'ipv6 nd ra-interval 1801'],
  ['ipv6 nd bogus', 'ipv6 nd ra-lifetime 1', 'no ipv6 nd ra-interval', 'ipv6 nd ra-lifetime 1800'],
  // An interval of 600 s is the default, unprinted; resets.
  ['ipv6 nd ra-interval 600', 'no ipv6 nd mtu', 'no ipv6 nd managed-config-flag', 'ipv6 nd prefix 2001:db8:3::/64', 'no ipv6 nd prefix 2001:db8:2::/64 1 1'],
  ['no ipv6 nd rdnss 2001:db8:1::53 20', 'ipv6 nd rdnss 2001:db8:1::54 infinite', 'ipv6 nd dnssl b.example', 'ipv6 nd dnssl b.example 50'],
  // Out of range or malformed: no match.
  ['ipv6 nd ra-lifetime 9001', 'ipv6 nd ra-interval msec 60', 'ipv6 nd prefix 2001:db8:9::/64 4294967296 1', 'ipv6 nd rdnss 2001:db8::1 10 20', 'ipv6 nd mtu 1300'],
  ['ipv6 nd suppress-ra', 'no ipv6 nd other-config-flag'],
  ['no ipv6 nd suppress-ra'],
];

const CHECKED_FILES = [
  ['ipv6 nd ra-lifetime 30', 'ipv6 nd ra-interval 60'],
  ['ipv6 nd bogus'],
  ['ipv6 nd prefix 2001:db8::/64 5'],
  ['ipv6 nd ra-interval 99999', 'ipv6 nd ra-interval msec 2500'],
];

const asFile = (commands: readonly string[]) => ['interface e1', ...commands.map((c) => ` ${c}`), 'exit', ''].join('\n');

/** The RA lines of interface e1 in a printed running config. */
function ndLinesOf(runningConfig: string): string[] {
  const lines = runningConfig.split('\n');
  const start = lines.indexOf('interface e1');
  if (start < 0) return [];
  const end = lines.indexOf('exit', start);
  return lines.slice(start + 1, end).map((line) => line.trim()).filter((line) => /^(no )?ipv6 nd /.test(line));
}

(canRunLab(['ip', 'vtysh', '/usr/lib/frr/zebra']) ? describe : describe.skip)('the in-memory zebra against zebra 8.4', () => {
  let lab: Lab;
  let dir: string;
  const model = new MemoryZebra();
  const vtysh = (args: readonly string[]) => runCommand(['vtysh', '--vty_socket', dir, ...args], { allowFailure: true, timeoutMs: 5000 });

  beforeAll(async () => {
    lab = await Lab.create();
    await lab.addNamespace('z');
    await lab.addLink('z', 'e1', 'z', 'e2');
    dir = join(lab.tempDir, 'frr');
    // zebra drops privileges to frr, which must reach and write its run directory.
    chmodSync(lab.tempDir, 0o711);
    await runCommand(['install', '-d', '-o', 'frr', '-g', 'frr', '-m', '0755', dir]);
    writeFileSync(join(dir, 'frr.conf'), START, { mode: 0o644 });
    await lab.spawn('z', ['/usr/lib/frr/zebra', '-f', join(dir, 'frr.conf'), '-P', '0', '--vty_socket', dir, '-z', join(dir, 'zserv.api'), '-i', join(dir, 'zebra.pid')]);
    await waitFor(async () => (await vtysh(['-c', 'show running-config'])).exitCode === 0, { timeoutMs: 10_000, what: 'zebra on its vty socket' });
    model.runCommands(START);
  }, 30_000);

  afterAll(async () => {
    await lab?.cleanup();
  });

  it('starts from the same config, skipping the lines zebra refuses', async () => {
    const running = await vtysh(['-c', 'show running-config']);
    expect(model.printInterface('e1')).toEqual(ndLinesOf(running.stdout));
    expect(ndLinesOf(model.printRunningConfig())).toEqual(model.printInterface('e1'));
  });

  it('takes each command file as zebra does: the same settings after it, the same exit code', async () => {
    for (const [index, commands] of COMMAND_FILES.entries()) {
      const path = join(dir, `commands-${index}.conf`);
      writeFileSync(path, asFile(commands));
      const real = await vtysh(['-f', path]);
      const refusals = model.runCommands(asFile(commands));
      const printed = ndLinesOf((await vtysh(['-c', 'show running-config'])).stdout);
      expect({ index, exitCode: refusals.at(-1)?.exitCode ?? 0, lines: model.printInterface('e1') }).toEqual({ index, exitCode: real.exitCode, lines: printed });
    }
  });

  it('checks a file as vtysh -C does: its grammar, not zebra\'s own refusals', async () => {
    writeFileSync(join(dir, 'vtysh.conf'), '');
    for (const [index, commands] of CHECKED_FILES.entries()) {
      const path = join(dir, `check-${index}.conf`);
      writeFileSync(path, asFile(commands));
      const real = await runCommand(['vtysh', '--config_dir', dir, '-C', '-f', path], { allowFailure: true });
      expect({ index, exitCode: MemoryZebra.checkCommands(asFile(commands)).at(-1)?.exitCode ?? 0 }).toEqual({ index, exitCode: real.exitCode });
    }
  });
});
