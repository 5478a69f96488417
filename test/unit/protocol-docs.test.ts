import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DesiredState } from '../../src/schema/desired-state.js';
import { AgentMessage, ServerMessage } from '../../src/schema/protocol.js';
import { parseWith } from '../../src/schema/validation.js';

/** Every JSON example in docs/protocol.md is a message the code accepts, so the document cannot drift from it. */
const text = readFileSync('docs/protocol.md', 'utf8');
const examples = [...text.matchAll(/```json\n([\s\S]*?)```/g)].map((match) => match[1]!);
const messages = examples.map((example) => JSON.parse(example) as { type?: string }).filter((m) => typeof m.type === 'string');

describe('docs/protocol.md', () => {
  it('has an example of every message type', () => {
    expect(new Set(messages.map((m) => m.type))).toEqual(new Set(['hello', 'desired', 'reconcile', 'ack', 'applied', 'observed']));
  });

  it.each(messages.map((m) => [m.type, m] as const))('%s example parses as the code parses it', (_type, message) => {
    const schema = ['desired', 'reconcile'].includes(message.type!) ? ServerMessage : AgentMessage;
    expect(parseWith(schema, message)).toMatchObject({ ok: true });
    if (message.type === 'desired') expect(parseWith(DesiredState, (message as { spec: unknown }).spec)).toMatchObject({ ok: true });
  });
});
