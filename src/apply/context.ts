import type { AgentConfig } from '../schema/agent-config.js';
import type { Host } from '../host/host.js';
import type { Step, StepKind } from '../plan/steps.js';

/** What an executor works with. */
export interface ApplyContext {
  readonly host: Host;
  readonly config: AgentConfig;
}

/**
 * An executor does one effect and makes no decisions. It resolves with a note
 * when it did less than asked for a reason that is not a failure ("…,
 * ignoring"), and rejects when the effect did not happen.
 */
export type Executor<K extends StepKind> = (step: Extract<Step, { kind: K }>, context: ApplyContext) => Promise<string | void>;
