import { describe, expect, it } from 'vitest';
import { parseBootParameters } from '../../src/daemon/boot-parameters.js';
import { readAgentConfig } from '../../src/daemon/config-file.js';
import { MemoryHost } from '../support/memory-host.js';

const CONFIG = '/etc/vr6-agent/agent.json';
const CMDLINE = '/var/cache/cloud/cmdline';

function hostWith(files: Record<string, string>): MemoryHost {
  const host = new MemoryHost();
  for (const [path, content] of Object.entries(files)) host.files.set(path, content);
  return host;
}

async function load(files: Record<string, string>) {
  return readAgentConfig(hostWith(files), CONFIG);
}

describe('boot parameter parsing', () => {
  it('reads key=value words, splitting at the first "=" and ignoring bare words', () => {
    const parameters = parseBootParameters('template=domP  name=r-12-VM\tvr6_token=abc== quiet type=vpcrouter\n');
    expect(Object.fromEntries(parameters)).toEqual({ template: 'domP', name: 'r-12-VM', vr6_token: 'abc==', type: 'vpcrouter' });
  });

  it('keeps the last value of a repeated key', () => {
    expect(parseBootParameters('a=1 a=2').get('a')).toBe('2');
  });
});

describe('agent config', () => {
  it('is all defaults when neither the file nor the cmdline exists', async () => {
    const loaded = await load({});
    expect(loaded.ok).toBe(true);
    if (!loaded.ok) return;
    expect(loaded.value.config.paths.runtimeDir).toBe('/run/vr6-agent');
    expect(loaded.value.config.management.urls).toEqual([]);
    expect(loaded.value.config.logLevel).toBe('info');
    expect(loaded.value.bootKeys).toEqual([]);
  });

  it('names an unknown key by its path and lists the keys allowed there', async () => {
    const loaded = await load({ [CONFIG]: JSON.stringify({ managment: {}, paths: { stateDirectory: '/x' } }) });
    expect(loaded.ok).toBe(false);
    if (loaded.ok) return;
    expect([...loaded.errors].sort((a, b) => a.path.localeCompare(b.path))).toEqual([
      { path: '$.managment', message: expect.stringMatching(/^is not a known key \(allowed here: routerId, management, paths, .*logLevel\)$/) },
      { path: '$.paths.stateDirectory', message: expect.stringContaining('allowed here: stateDir, runtimeDir') },
    ]);
  });

  it('names a bad value by its path', async () => {
    const loaded = await load({ [CONFIG]: JSON.stringify({ management: { urls: ['http://x'] }, logLevel: 'loud' }) });
    expect(loaded.ok).toBe(false);
    if (loaded.ok) return;
    expect(loaded.errors.map((e) => e.path)).toEqual(['$.management.urls[0]', '$.logLevel']);
  });

  it('refuses a runtime directory keepalived.conf or conntrackd.conf would split or read as a comment', async () => {
    for (const runtimeDir of ['/run/vr6 agent', '/run/vr6\\agent', '/run/"vr6"', "/run/vr6'", '/run/vr6#1', '/run/vr6!', 'run/vr6-agent']) {
      const loaded = await load({ [CONFIG]: JSON.stringify({ paths: { runtimeDir } }) });
      expect(loaded.ok ? [] : loaded.errors, runtimeDir).toEqual([{ path: '$.paths.runtimeDir', message: expect.stringMatching(/^runtimeDir must be an absolute path of letters, digits and \. _ \/ - only/) }]);
    }
    const plain = await load({ [CONFIG]: JSON.stringify({ paths: { runtimeDir: '/run/vr6-agent_2.test' } }) });
    expect(plain.ok && plain.value.config.paths.runtimeDir).toBe('/run/vr6-agent_2.test');
  });

  it('takes a client certificate for mutual TLS only with its key', async () => {
    const both = await load({ [CONFIG]: JSON.stringify({ management: { certFile: '/etc/vr6-agent/client.crt', keyFile: '/etc/vr6-agent/client.key' } }) });
    expect(both.ok && both.value.config.management).toMatchObject({ certFile: '/etc/vr6-agent/client.crt', keyFile: '/etc/vr6-agent/client.key' });
    const alone = await load({ [CONFIG]: JSON.stringify({ management: { certFile: '/etc/vr6-agent/client.crt' } }) });
    expect(alone).toEqual({ ok: false, errors: [{ path: '$.management.certFile', message: 'certFile and keyFile go together (mutual TLS needs both)' }] });
  });

  it('refuses a file that is not JSON or not an object', async () => {
    for (const text of ['{ "a": ', '[1]']) {
      const loaded = await load({ [CONFIG]: text });
      expect(loaded.ok, text).toBe(false);
    }
  });

  it('lets the vr6_* boot parameters win over the file, and keeps the token out of the config', async () => {
    const file = { routerId: 'r-1-VM', management: { urls: ['ws://[fd00:c::9]:1'], heartbeatSeconds: 7 }, logLevel: 'warn' };
    const cmdline = 'name=r-12-VM vr6_mgmt_urls=wss://[fd00:c::1]:8765,wss://[fd00:c::2]:8765 vr6_token=s3cret== vr6_router_id=r-99-VM vr6_log_level=debug';
    const loaded = await load({ [CONFIG]: JSON.stringify(file), [CMDLINE]: cmdline });
    expect(loaded.ok).toBe(true);
    if (!loaded.ok) return;
    const { config, bootToken, bootKeys } = loaded.value;
    expect(config.management.urls).toEqual(['wss://[fd00:c::1]:8765', 'wss://[fd00:c::2]:8765']);
    expect(config.management.heartbeatSeconds).toBe(7);
    expect(config.routerId).toBe('r-99-VM');
    expect(config.logLevel).toBe('debug');
    expect(bootToken).toBe('s3cret==');
    expect(JSON.stringify(config)).not.toContain('s3cret');
    expect(bootKeys.sort()).toEqual(['vr6_log_level', 'vr6_mgmt_urls', 'vr6_router_id', 'vr6_token']);
  });

  it("uses CloudStack's name= as the router id only when the file sets none", async () => {
    const fromName = await load({ [CONFIG]: '{}', [CMDLINE]: 'type=router name=r-12-VM' });
    expect(fromName.ok && fromName.value.config.routerId).toBe('r-12-VM');
    const fromFile = await load({ [CONFIG]: '{"routerId":"r-1-VM"}', [CMDLINE]: 'name=r-12-VM' });
    expect(fromFile.ok && fromFile.value.config.routerId).toBe('r-1-VM');
  });

  it('names the boot parameter behind a bad value', async () => {
    const loaded = await load({ [CMDLINE]: 'vr6_mgmt_urls=http://mgmt:8080 vr6_log_level=chatty' });
    expect(loaded.ok).toBe(false);
    if (loaded.ok) return;
    expect(loaded.errors).toEqual([
      { path: `${CMDLINE}: vr6_mgmt_urls`, message: 'must be a ws:// or wss:// URL' },
      { path: `${CMDLINE}: vr6_log_level`, message: expect.any(String) },
    ]);
  });

  it('reads the boot parameters from the file the config names, and not at all when disabled', async () => {
    const moved = await load({ [CONFIG]: '{"bootParameters":{"file":"/tmp/cmdline"}}', '/tmp/cmdline': 'vr6_log_level=trace' });
    expect(moved.ok && moved.value.config.logLevel).toBe('trace');
    const disabled = await load({ [CONFIG]: '{"bootParameters":{"isEnabled":false}}', [CMDLINE]: 'vr6_log_level=trace vr6_token=x' });
    expect(disabled.ok && disabled.value.config.logLevel).toBe('info');
    expect(disabled.ok && disabled.value.bootToken).toBeUndefined();
  });
});
