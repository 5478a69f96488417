import { z } from 'zod';
import { DesiredState } from './desired-state.js';

/**
 * The JSON Schema (draft 2020-12) of the desired state as the server sends
 * it, generated from the zod schema so the two cannot drift apart. Checks
 * that span fields (overlaps, references, uniqueness) are in the zod schema
 * only; docs/desired-state.md lists them.
 */
export function renderDesiredStateJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(DesiredState, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' });
  return {
    ...schema,
    $id: 'https://cloudstack.apache.org/vr6-agent/desired-state-v1.schema.json',
    title: 'vr6-agent desired state, schemaVersion 1 and 2',
    description:
      'The whole IPv6 desired state of one CloudStack virtual router, pushed by the management server. ' +
      'Cross-field rules (unique ids and interfaces, non-overlapping /64s, gateways inside their prefix, ' +
      'the form of routedPrefixes per schemaVersion, their lengths, next hops and overlaps, ' +
      'ACL references, the RA timing, lifetime and size rules) are enforced by the agent and listed in docs/desired-state.md.',
  };
}
