import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SystemHost } from '../../src/host/system-host.js';

/** The real machine's /proc/sys, read only: the batch read answers what one read at a time answers. */
describe('SystemHost.readSysctls', () => {
  it('answers as readSysctl does, for keys that exist and keys of interfaces that do not', async () => {
    const host = new SystemHost();
    const keys = [
      'net/ipv6/conf/all/forwarding',
      'net/ipv6/conf/lo/disable_ipv6',
      'net/ipv6/conf/default/accept_ra',
      'net/ipv6/conf/vr6-no-such-link/accept_ra',
      'net/ipv6/conf/all/no_such_knob',
      'net/no_such_family/conf/all/forwarding',
    ];
    const batch = await host.readSysctls(keys);
    const oneByOne = new Map(await Promise.all(keys.map(async (key) => [key, await host.readSysctl(key)] as const)));
    expect(batch).toEqual(oneByOne);
    expect(batch.get('net/ipv6/conf/all/forwarding')).toBe(readFileSync('/proc/sys/net/ipv6/conf/all/forwarding', 'utf8').trim());
    expect(batch.get('net/ipv6/conf/vr6-no-such-link/accept_ra')).toBeNull();
  });

  it('refuses a key that is not a sysctl path', async () => {
    await expect(new SystemHost().readSysctls(['net/../../etc/passwd'])).rejects.toThrow(/not a sysctl key/);
  });
});
