import { spawn } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SystemHost } from '../../src/host/system-host.js';
import { waitForChild } from '../support/child-processes.js';
import { canRunLab } from './lab-guard.js';
import { killPid, Lab, waitFor } from './netns.js';

/**
 * The routes' spare ip (Host.exec with `spare`) against the real kernel, in
 * a namespace of the test's own: an interface deleted and added again under
 * its name gets a new index, and another interface takes the old one. A
 * route by that name must go to the interface of that name now: the spare
 * (spawned before, given its input after) puts it there; an ip that had
 * already resolved the name (iproute2 caches name -> index) puts it on the
 * other interface, which is why a spare serves one exec.
 */
const NAME = 'vr6sp';
const IMPOSTOR = 'vr6old';
const OLD_INDEX = '100';

(canRunLab(['ip']) ? describe : describe.skip)('the spare ip and interface names on the real kernel', () => {
  let lab: Lab;
  const host = new SystemHost();

  const addBridge = async (name: string, index?: string) => {
    await lab.exec('vr', ['ip', 'link', 'add', 'name', name, ...(index ? ['index', index] : []), 'type', 'bridge']);
    await lab.exec('vr', ['ip', 'link', 'set', name, 'up']);
  };
  // The name goes to a new interface; its old index to another one.
  const recreate = async () => {
    await lab.exec('vr', ['ip', 'link', 'del', NAME]);
    await addBridge(IMPOSTOR, OLD_INDEX);
    await addBridge(NAME);
  };
  const deviceOf = async (prefix: string) => {
    const routes = JSON.parse((await lab.exec('vr', ['ip', '-6', '-j', 'route', 'show', prefix])).stdout) as { dev?: string }[];
    return routes.map((route) => route.dev);
  };

  beforeAll(async () => {
    lab = await Lab.create();
    await lab.addNamespace('vr');
  }, 30_000);

  afterEach(async () => {
    for (const name of [NAME, IMPOSTOR]) await lab.exec('vr', ['ip', 'link', 'del', name], { allowFailure: true });
  });

  afterAll(async () => {
    host.close();
    await lab?.cleanup();
  });

  it('puts a route given to a spare on the interface that has the name now', async () => {
    await addBridge(NAME, OLD_INDEX);
    const batch = ['ip', 'netns', 'exec', lab.namespace('vr'), 'ip', '-6', '-batch', '-'];
    // This exec resolves the name in its own ip, and leaves a spare behind.
    await host.exec(batch, { input: `route replace fd00:5:1::/64 dev ${NAME} proto static\n`, spare: true });
    expect(await deviceOf('fd00:5:1::/64')).toEqual([NAME]);
    // ip netns exec has exec'd into the ip that waits.
    await waitForChild(['ip', '-6', '-batch', '-']);
    await recreate();
    await host.exec(batch, { input: `route replace fd00:5::/64 dev ${NAME} proto static\n`, spare: true });
    expect(await deviceOf('fd00:5::/64')).toEqual([NAME]);
  });

  it('shows a warm ip, which resolved the name before, putting it on the interface with the old index', async () => {
    await addBridge(NAME, OLD_INDEX);
    const resident = spawn('ip', ['netns', 'exec', lab.namespace('vr'), 'ip', '-6', '-batch', '-'], { stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      resident.stdin.write(`route replace fd00:6:1::/64 dev ${NAME} proto static\n`);
      await waitFor(async () => ((await deviceOf('fd00:6:1::/64')).length > 0 ? true : undefined), { timeoutMs: 5000, what: 'the warm ip to add its first route' });
      await recreate();
      resident.stdin.end(`route replace fd00:6::/64 dev ${NAME} proto static\n`);
      await new Promise((resolve) => resident.once('close', resolve));
      expect(await deviceOf('fd00:6::/64')).toEqual([IMPOSTOR]);
    } finally {
      await killPid(resident.pid!);
    }
  });
});
