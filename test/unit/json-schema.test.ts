import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { DesiredState } from '../../src/schema/desired-state.js';
import { renderDesiredStateJsonSchema } from '../../src/schema/json-schema.js';
import { parseWith } from '../../src/schema/validation.js';

const committed = JSON.parse(readFileSync('schema/desired-state.schema.json', 'utf8'));
const examples = ['docs/examples/vpc.json', 'docs/examples/isolated.json'];

describe('the published JSON Schema', () => {
  it('is what the zod schema generates (run `npm run schema` after changing it)', () => {
    expect(committed).toEqual(renderDesiredStateJsonSchema());
  });

  it.each(examples)('accepts the documented example %s, as the agent does', (path) => {
    const example = JSON.parse(readFileSync(path, 'utf8'));
    const validate = new Ajv2020.default({ strict: false }).compile(committed);
    expect(validate(example), JSON.stringify(validate.errors)).toBe(true);
    expect(parseWith(DesiredState, example)).toMatchObject({ ok: true });
  });

  it('rejects what the shapes forbid, as the agent does', () => {
    const example = JSON.parse(readFileSync(examples[0]!, 'utf8'));
    example.guestNetworks[0].interface = 'eth2; reboot';
    example.guestNetworks[0].typo = true;
    const validate = new Ajv2020.default({ strict: false }).compile(committed);
    expect(validate(example)).toBe(false);
    expect(parseWith(DesiredState, example).ok).toBe(false);
  });
});
