import type { Container } from './container.js';

type Check = (name: string, body: () => Promise<string>) => Promise<unknown>;

const SCRIPT = '/opt/cloud/bin/update_config.py';
const DISTRIB = `${SCRIPT}.vr6-distrib`;
const WRAPPER = '/usr/lib/vr6-agent/cloudstack/update_config';
const DROPIN = '/etc/systemd/system/radvd.service.d/vr6-agent.conf';

/**
 * vr6-cloudstack-hooks in the booted Debian 12: the hand-over of a systemvm's
 * IPv6 jobs (docs/cloudstack.md) and its undoing, on a stand-in for
 * CloudStack's update_config.py and Debian's own radvd.service.
 */
export async function checkCloudStackHooks(container: Container, check: Check): Promise<void> {
  await check('vr6-cloudstack-hooks install diverts update_config.py to the wrapper and keeps radvd.service from starting', async () => {
    await container.exec(['mkdir', '-p', '/opt/cloud/bin']);
    await container.exec(['sh', '-c', `printf '#!/bin/sh\\necho cloudstack "$@"\\n' > ${SCRIPT} && chmod 755 ${SCRIPT}`]);
    const enabled = await container.exec(['systemctl', 'is-enabled', 'vr6-cloudstack-hooks.service'], { allowFailure: true });
    if (enabled.stdout.trim() !== 'disabled') throw new Error(`vr6-cloudstack-hooks.service is ${enabled.stdout.trim()}, not disabled`);
    await container.exec(['vr6-cloudstack-hooks', 'install']);
    await container.exec(['vr6-cloudstack-hooks', 'install']);
    await container.exec(['cmp', SCRIPT, WRAPPER]);
    const original = await container.read(['cat', DISTRIB]);
    if (!original.includes('echo cloudstack')) throw new Error(`diverted copy: ${original}`);
    const diversion = await container.read(['dpkg-divert', '--list', SCRIPT]);
    if (!diversion.includes(DISTRIB)) throw new Error(`dpkg-divert --list: ${diversion}`);
    // What CloudStack's scripts run, with the config CloudStack writes: it must succeed and start nothing.
    await container.exec(['sh', '-c', "printf 'interface lo\\n{\\n  AdvSendAdvert on;\\n};\\n' > /etc/radvd.conf"]);
    await container.exec(['systemctl', 'restart', 'radvd.service']);
    await container.exec(['rm', '-f', '/etc/radvd.conf']);
    const radvd = await container.unitProperties('radvd.service', ['ActiveState', 'ConditionResult']);
    if (radvd.ActiveState !== 'inactive' || radvd.ConditionResult !== 'no') throw new Error(`radvd.service: ${JSON.stringify(radvd)}`);
    return `${diversion}; radvd.service ${radvd.ActiveState}, condition ${radvd.ConditionResult}`;
  });
  await check('vr6-cloudstack-hooks remove puts CloudStack\'s script and radvd.service back', async () => {
    await container.exec(['vr6-cloudstack-hooks', 'remove']);
    await container.exec(['vr6-cloudstack-hooks', 'remove']);
    const restored = await container.read(['cat', SCRIPT]);
    if (!restored.includes('echo cloudstack')) throw new Error(`update_config.py: ${restored}`);
    const left = await container.exec(['ls', DISTRIB, DROPIN], { allowFailure: true });
    if (left.stdout.trim() !== '') throw new Error(`left behind: ${left.stdout.trim()}`);
    const diversion = await container.read(['dpkg-divert', '--list', SCRIPT]);
    if (diversion !== '') throw new Error(`still diverted: ${diversion}`);
    // Installed again so that the package's removal must take it away (checked with dpkg --purge).
    await container.exec(['vr6-cloudstack-hooks', 'install']);
    return 'original back, no diversion, no drop-in';
  });
}
