import type { AgentConfig } from '../schema/agent-config.js';
import type { Host } from '../host/host.js';
import { applyStep } from '../apply/executors.js';
import type { Ledger } from '../plan/ledger.js';
import type { Step } from '../plan/steps.js';
import type { RenderedHost } from '../render/host-facts.js';
import type { Room } from './room.js';

type ConfigCheck = Extract<Step, { kind: 'checkRadvdConfig' | 'checkFrrConfig' }>;

/** How many accepted configs are remembered: the current ones of each daemon and the ones just before. */
const REMEMBERED = 4;

/**
 * Daemon configs that their own tool (`radvd -c`, `vtysh -C`) accepted in
 * this run of the agent. A rendered config is checked beside the
 * observation, which does not depend on it, so a push that changes a config
 * waits for one tool run less before it is applied: a check and a reading of
 * the running configs each cost a process start (80–100 ms for vtysh). A
 * config the tool refuses is not remembered: the plan then checks it as a
 * step, and the step fails with the tool's words.
 */
export class ConfigChecks implements Room {
  private accepted: string[] = [];

  constructor(
    private readonly host: Host,
    private readonly config: AgentConfig,
  ) {}

  ledger(): Partial<Ledger> {
    return { checkedConfigs: new Set(this.accepted) };
  }

  async beforeObserve(rendered: RenderedHost): Promise<void> {
    const candidates: ConfigCheck[] = [
      ...(rendered.radvdConf !== null ? [{ kind: 'checkRadvdConfig', content: rendered.radvdConf } as const] : []),
      ...(rendered.frr !== null ? [{ kind: 'checkFrrConfig', content: rendered.frr.text } as const] : []),
    ];
    const unchecked = candidates.filter((step) => !this.accepted.includes(step.content));
    await Promise.all(
      unchecked.map(async (step) => {
        const isAccepted = await applyStep(step, { host: this.host, config: this.config }).then(() => true, () => false);
        if (isAccepted) this.accepted = [step.content, ...this.accepted].slice(0, REMEMBERED);
      }),
    );
  }
}
