import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyStep } from '../../src/apply/executors.js';
import { fileLayoutOf } from '../../src/model/file-layout.js';
import { SystemHost } from '../../src/host/system-host.js';
import { parseRulesetListing } from '../../src/observe/ruleset-listing.js';
import { planRuleset } from '../../src/plan/ruleset-plan.js';
import { renderHost } from '../../src/render/host-facts.js';
import { renderRulesetDocument } from '../../src/render/ruleset-document.js';
import { AgentConfig } from '../../src/schema/agent-config.js';
import { DesiredState } from '../../src/schema/desired-state.js';
import { vpcInput } from '../support/states.js';
import { canRunLab } from './lab-guard.js';
import { Lab } from './netns.js';

/**
 * The staged load's executor against the real nft: it writes each stage
 * while nft loads the one before, into two files in turn, so a stage read
 * while the next is written must still be the stage it was. The table must
 * list exactly as one transaction of the same rendering does.
 */
(canRunLab(['nft', 'unshare']) ? describe : describe.skip)('a staged load on the real nft', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await Lab.create();
    await lab.addNamespace('vr');
  }, 30_000);

  afterAll(async () => {
    await lab?.cleanup();
  });

  it('lists as one transaction does, and leaves no stage file behind', async () => {
    const input = vpcInput();
    input.aclLists[0].items = Array.from({ length: 4500 }, (_, i) => ({
      number: i + 1,
      action: i % 3 === 0 ? 'deny' : 'allow',
      direction: i % 2 === 0 ? 'ingress' : 'egress',
      protocol: 'tcp',
      ports: { start: 1000 + i, end: 1000 + i },
      cidrs: [`2001:db8:${(i % 4000).toString(16)}::/48`],
    }));
    const rendered = renderHost(DesiredState.parse(input));
    const [step] = planRuleset(rendered, null, null);
    expect(step?.kind).toBe('loadRulesetStaged');
    expect(step?.kind === 'loadRulesetStaged' && step.documents.length).toBeGreaterThan(3);

    const nft = join(lab.tempDir, 'nft');
    writeFileSync(nft, `#!/bin/sh\nexec ip netns exec ${lab.namespace('vr')} nft "$@"\n`);
    chmodSync(nft, 0o755);
    const config = AgentConfig.parse({ paths: { stateDir: join(lab.tempDir, 'state'), runtimeDir: lab.tempDir }, commands: { nft } });
    await applyStep(step!, { host: new SystemHost(), config });

    const staged = (await lab.exec('vr', ['nft', 'list', 'table', 'ip6', 'vr6_agent'])).stdout;
    const wholePath = join(lab.tempDir, 'whole.json');
    writeFileSync(wholePath, `${JSON.stringify(renderRulesetDocument(rendered.ruleset))}\n`);
    const whole = spawnSync('unshare', ['--net', 'sh', '-c', `nft -j -f ${wholePath} && nft list table ip6 vr6_agent`], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    expect(whole.status, whole.stderr).toBe(0);
    expect(parseRulesetListing(staged)).toEqual(parseRulesetListing(whole.stdout));
    expect(fileLayoutOf(config).rulesetStages.filter((path) => existsSync(path))).toEqual([]);
  }, 60_000);
});
