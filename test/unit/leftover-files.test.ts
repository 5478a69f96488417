import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isLeftoverTempFile, sweepLeftoverFiles } from '../../src/daemon/leftover-files.js';
import type { Host } from '../../src/host/host.js';
import { SystemHost } from '../../src/host/system-host.js';
import { AgentConfig } from '../../src/schema/agent-config.js';
import { MemoryHost } from '../support/memory-host.js';

describe('temp files left by a killed agent', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('counts only .<name>.<pid>.tmp of another pid, and only known names where given', () => {
    expect(isLeftoverTempFile('.desired.json.4242.tmp', null, 1)).toBe(true);
    expect(isLeftoverTempFile('.desired.json.4242.tmp', null, 4242)).toBe(false);
    expect(isLeftoverTempFile('desired.json', null, 1)).toBe(false);
    expect(isLeftoverTempFile('.desired.json.tmp', null, 1)).toBe(false);
    expect(isLeftoverTempFile('.frr.conf.77.tmp', new Set(['frr.conf']), 1)).toBe(true);
    expect(isLeftoverTempFile('.zebra.conf.77.tmp', new Set(['frr.conf']), 1)).toBe(false);
  });

  /** A host with the agent's directories under root: files are written and listed without the host under test. */
  interface Machine {
    host: Host;
    root: string;
    write(file: string): void;
    list(directory: string): string[];
  }
  const machines: [string, () => Machine][] = [
    ['the real file system', () => {
      const root = mkdtempSync(join(tmpdir(), 'vr6-leftover-'));
      dirs.push(root);
      for (const dir of ['state', 'run', 'frr', 'ifaces']) mkdirSync(join(root, dir));
      return { host: new SystemHost(), root, write: (file) => writeFileSync(join(root, file), '{"half'), list: (dir) => readdirSync(join(root, dir)) };
    }],
    ['the in-memory host', () => {
      const host = new MemoryHost();
      const root = '/var/tmp/vr6-leftover';
      const list = (dir: string) => [...host.files.keys()].filter((path) => path.startsWith(`${root}/${dir}/`)).map((path) => path.slice(root.length + dir.length + 2));
      return { host, root, write: (file) => host.files.set(join(root, file), '{"half'), list };
    }],
  ];

  it.each(machines)('sweeps the state and runtime directories, and only its own names in shared ones, on %s', async (_name, make) => {
    const { host, root, write, list } = make();
    const config = AgentConfig.parse({
      paths: {
        stateDir: join(root, 'state'),
        runtimeDir: join(root, 'run'),
        frrRunDir: join(root, 'frr'),
        interfacesFile: join(root, 'ifaces/vr6-agent'),
        radvdConfig: join(root, 'run/radvd.conf'),
      },
    });
    const files = ['state/.desired.json.10.tmp', 'state/desired.json', 'run/.ruleset.json.11.tmp', 'run/.radvd.conf.99.tmp',
      'frr/.frr.conf.12.tmp', 'frr/.other.conf.12.tmp', 'ifaces/.vr6-agent.13.tmp', 'ifaces/.eth0.13.tmp', 'state/.owned-addresses.json.99.tmp', 'run/radvd.conf.check'];
    for (const file of files) write(file);
    const removed = await sweepLeftoverFiles(host, config, 99);
    expect(removed.map((path) => path.slice(root.length + 1)).sort()).toEqual(
      ['frr/.frr.conf.12.tmp', 'ifaces/.vr6-agent.13.tmp', 'run/radvd.conf.check', 'run/.ruleset.json.11.tmp', 'state/.desired.json.10.tmp'].sort(),
    );
    expect(list('state').sort()).toEqual(['.owned-addresses.json.99.tmp', 'desired.json']);
    expect(list('run').sort()).toEqual(['.radvd.conf.99.tmp']);
    expect(list('frr').sort()).toEqual(['.other.conf.12.tmp']);
    expect(list('ifaces').sort()).toEqual(['.eth0.13.tmp']);
  });
});
