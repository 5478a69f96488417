import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderInterfacesFile } from '../../src/render/interfaces-file.js';
import { renderRadvdConf } from '../../src/render/radvd-conf.js';
import { renderFrrConf } from '../../src/render/frr-conf.js';
import { renderSysctls } from '../../src/render/sysctls.js';
import { renderKeepalivedConf } from '../../src/render/keepalived-conf.js';
import { renderConntrackdConf } from '../../src/render/conntrackd-conf.js';
import { keepalivedFilesOf } from '../../src/model/file-layout.js';
import { DesiredState } from '../../src/schema/desired-state.js';

/**
 * Golden renders of the host facts: each case folder holds desired.json and
 * the expected radvd.conf, frr.conf, sysctls.json and interfaces. UPDATE_GOLDEN=1
 * rewrites them; review the diff before committing.
 */
const GOLDEN = 'test/golden';
const ARTIFACTS: Record<string, (state: DesiredState) => string> = {
  'radvd.conf': (state) => renderRadvdConf(state) ?? '# radvd does not run for this state\n',
  // The same RAs from zebra, whichever backend the case selects: the two files side by side are the equivalence to review.
  'frr.conf': (state) => renderFrrConf({ ...state, raBackend: 'frr' })!.text,
  'sysctls.json': (state) => `${JSON.stringify(renderSysctls(state), null, 2)}\n`,
  interfaces: renderInterfacesFile,
};
// Only a redundant pair's cases have one.
const PAIR_ARTIFACTS: Record<string, (state: DesiredState) => string> = {
  'keepalived.conf': (state) => renderKeepalivedConf(state, keepalivedFilesOf('/run/vr6-agent'))!.text,
  'conntrackd.conf': (state) => renderConntrackdConf(state, keepalivedFilesOf('/run/vr6-agent')) ?? '# conntrackd does not run for this state\n',
};

const cases = readdirSync(GOLDEN).filter((name) => existsSync(join(GOLDEN, name, 'desired.json')));

describe('golden host renders', () => {
  it('has cases', () => expect(cases.length).toBeGreaterThanOrEqual(3));

  describe.each(cases)('%s', (name) => {
    const state = DesiredState.parse(JSON.parse(readFileSync(join(GOLDEN, name, 'desired.json'), 'utf8')));
    const artifacts = { ...ARTIFACTS, ...(state.redundancy ? PAIR_ARTIFACTS : {}) };
    it.each(Object.keys(artifacts))('renders %s', (artifact) => {
      const path = join(GOLDEN, name, artifact);
      const rendered = artifacts[artifact]!(state);
      if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, rendered);
      expect(rendered).toBe(readFileSync(path, 'utf8'));
    });
  });
});
