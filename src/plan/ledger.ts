import type { OwnedAddress } from '../render/host-facts.js';
import type { RulesetMemory } from './ruleset-plan.js';
import type { Daemon } from './steps.js';

/** What the agent itself did before: the memory a level-triggered planner needs to recognise drift. */
export interface Ledger {
  /** What the agent last loaded into its table; null when it has not loaded it since it started. */
  readonly ruleset: RulesetMemory | null;
  /**
   * Per daemon the agent runs, the config it last brought the running
   * process to (radvd's file at its start or reload, frr.conf by commands to
   * an FRR daemon, "" for one just started empty); absent while the agent
   * has not, or it stopped it.
   */
  readonly loaded: ReadonlyMap<Daemon, string>;
  /** Addresses the agent has added and not yet removed; the sweep list. */
  readonly ownedAddresses: readonly OwnedAddress[];
  /** Daemon configs their tool already accepted (`radvd -c`, `vtysh -C`): no check step for them. */
  readonly checkedConfigs: ReadonlySet<string>;
}

/** The ledger of an agent that remembers nothing yet. */
export const EMPTY_LEDGER: Ledger = { ruleset: null, loaded: new Map(), ownedAddresses: [], checkedConfigs: new Set() };
