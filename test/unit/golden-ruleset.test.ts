import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderRuleset } from '../../src/render/ruleset.js';
import { renderRulesetDocument } from '../../src/render/ruleset-document.js';
import { DesiredState } from '../../src/schema/desired-state.js';

/**
 * Golden renders of the firewall: each test/golden/<case>/ with a ruleset.json
 * renders its desired.json and compares the pretty-printed document byte for
 * byte. UPDATE_GOLDEN=1 rewrites ruleset.json instead (review the diff).
 * A new case starts with an empty ruleset.json: `touch` it, then update.
 */

const GOLDEN_DIR = fileURLToPath(new URL('../golden/', import.meta.url));
const isUpdating = process.env.UPDATE_GOLDEN === '1';

// The pretty-printed document, as stored in ruleset.json.
function formatRulesetFile(desiredJson: string): string {
  const state = DesiredState.parse(JSON.parse(desiredJson));
  return `${JSON.stringify(renderRulesetDocument(renderRuleset(state)), null, 2)}\n`;
}

// Case folders holding a ruleset.json.
function listRulesetCases(): string[] {
  return readdirSync(GOLDEN_DIR, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(GOLDEN_DIR, entry.name, 'ruleset.json')))
    .map((entry) => entry.name)
    .sort();
}

describe('golden rulesets', () => {
  const cases = listRulesetCases();

  it('has the required cases', () => {
    expect(cases).toEqual(expect.arrayContaining(['isolated-basic', 'isolated-deny-egress', 'vpc-two-tiers']));
  });

  it.each(cases)('%s', (name) => {
    const rendered = formatRulesetFile(readFileSync(join(GOLDEN_DIR, name, 'desired.json'), 'utf8'));
    const goldenPath = join(GOLDEN_DIR, name, 'ruleset.json');
    if (isUpdating) writeFileSync(goldenPath, rendered);
    expect(rendered).toBe(readFileSync(goldenPath, 'utf8'));
  });
});
