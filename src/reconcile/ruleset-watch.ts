import { ExecError, type Host } from '../host/host.js';
import { readRuleset } from '../observe/read-host.js';
import type { ObservedRuleset } from '../observe/ruleset-listing.js';
import type { RulesetMemory } from '../plan/ruleset-plan.js';
import type { RenderedHost } from '../render/host-facts.js';
import type { AgentConfig } from '../schema/agent-config.js';

const MEMORY_FILE = 'ruleset-memory.json';

/** What one observation of the table cost. */
export interface RulesetObservation {
  readonly ruleset: ObservedRuleset | null;
  /** True when nft listed the table; false when the generation id proved nothing had changed. */
  readonly isListed: boolean;
}

/**
 * Watches the agent's table cheaply. Listing a 10,000-rule table takes about
 * a second (bench/README.md); reading the nf_tables generation id, which the
 * kernel bumps on every committed transaction, takes a few milliseconds. The
 * watch remembers the id at which its memory of the table is true: after a
 * commit of its own that moved the id by exactly one, and after a listing. An
 * unchanged id proves the table unchanged, so a resync reads nothing else.
 *
 * The memory holds, per chain, the digest of what the agent rendered and the
 * digest of how nft lists it. Chains the agent has just loaded are listed at
 * the next observation, while the id still proves nobody else touched them.
 * Without the helper (no id) it lists every time, as a plain reconcile would.
 * The memory lives in the runtime directory: a reboot clears it with the table.
 */
export class RulesetWatch {
  private memory: RulesetMemory | null = null;
  /** The generation at which `memory.listed` (with its pending chains) is the truth. */
  private trusted: number | null = null;
  /** The generation read by the last observation. */
  private seen: number | null = null;
  private counters: ObservedRuleset['counters'] = new Map();
  private listedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly host: Host,
    private readonly config: AgentConfig,
    private readonly now: () => number = Date.now,
  ) {}

  /** What the agent last loaded, for the planner. */
  get rulesetMemory(): RulesetMemory | null {
    return this.memory;
  }

  /** Loads the memory an earlier agent left in the runtime directory. */
  async load(): Promise<void> {
    const value = parseMemoryFile(await this.host.readFile(this.memoryPath()));
    this.memory = value?.memory ?? null;
    this.trusted = value?.generation ?? null;
  }

  /** Observes the table, listing it only when its generation moved, chains are pending or usage is due. */
  async observe(): Promise<RulesetObservation> {
    const generation = await this.readGeneration();
    this.seen = generation;
    const isProven = generation !== null && generation === this.trusted && this.memory !== null;
    const isUsageDue = this.now() - this.listedAt >= this.config.rulesetListSeconds * 1000;
    const pending = this.pendingChains();
    if (isProven && !isUsageDue && pending.length === 0) {
      return { ruleset: { chains: this.memory!.listed, counters: this.counters }, isListed: false };
    }
    const ruleset = await readRuleset(this.host, this.config);
    this.counters = ruleset?.counters ?? new Map();
    this.listedAt = this.now();
    if (isProven && ruleset !== null && pending.length > 0) await this.learn(ruleset, pending);
    else if (!isProven && generation !== null && ruleset !== null && this.isAsRemembered(ruleset)) {
      // Someone committed elsewhere (another table, say): ours is intact, so
      // this generation proves it until the next commit.
      this.trusted = generation;
      await this.persist();
    }
    return { ruleset, isListed: true };
  }

  private isAsRemembered(ruleset: ObservedRuleset): boolean {
    const memory = this.memory;
    if (memory === null || ruleset.chains.size !== memory.listed.size || memory.listed.size !== memory.rendered.size) return false;
    return [...memory.listed].every(([name, digest]) => ruleset.chains.get(name) === digest);
  }

  /** Records a load or update of the agent's own: `chains` are the ones it wrote, or 'all'. */
  async recordCommit(rendered: RenderedHost, chains: readonly string[] | 'all'): Promise<void> {
    const after = await this.readGeneration();
    const isOnlyOurs = after !== null && this.seen !== null && after === this.seen + 1;
    let listed: Map<string, string>;
    if (isOnlyOurs) {
      // Untouched chains are as listed before; the written ones are learned at the next observation.
      listed = new Map(chains === 'all' ? [] : [...(this.memory?.listed ?? [])].filter(([name]) => !chains.includes(name)));
      this.trusted = after;
    } else {
      listed = new Map((await readRuleset(this.host, this.config))?.chains ?? []);
      this.trusted = null;
    }
    this.memory = { rendered: rendered.chainFingerprints, listed };
    await this.persist();
  }

  private pendingChains(): string[] {
    const memory = this.memory;
    return memory === null ? [] : [...memory.rendered.keys()].filter((name) => !memory.listed.has(name));
  }

  private async learn(ruleset: ObservedRuleset, pending: readonly string[]): Promise<void> {
    const listed = new Map(this.memory!.listed);
    for (const name of pending) {
      const digest = ruleset.chains.get(name);
      if (digest !== undefined) listed.set(name, digest);
    }
    this.memory = { rendered: this.memory!.rendered, listed };
    await this.persist();
  }

  private async readGeneration(): Promise<number | null> {
    const command = this.config.commands.nftGenid;
    if (command === '') return null;
    try {
      const { stdout } = await this.host.exec([command], { timeoutMs: 5000 });
      const id = Number(stdout.trim());
      return Number.isSafeInteger(id) ? id : null;
    } catch (error) {
      if (error instanceof ExecError) return null;
      throw error;
    }
  }

  private async persist(): Promise<void> {
    const memory = this.memory;
    if (memory === null) return;
    const value = { generation: this.trusted, rendered: Object.fromEntries(memory.rendered), listed: Object.fromEntries(memory.listed) };
    await this.host.writeFileAtomic(this.memoryPath(), `${JSON.stringify(value)}\n`, 0o600);
  }

  private memoryPath(): string {
    return `${this.config.paths.runtimeDir}/${MEMORY_FILE}`;
  }
}

function parseMemoryFile(text: string | null): { memory: RulesetMemory; generation: number | null } | null {
  try {
    const value = JSON.parse(text ?? 'null') as { rendered?: unknown; listed?: unknown; generation?: unknown } | null;
    if (value === null || typeof value !== 'object') return null;
    const asMap = (record: unknown) =>
      new Map(Object.entries(record && typeof record === 'object' ? record : {}).filter((e): e is [string, string] => typeof e[1] === 'string'));
    const generation = typeof value.generation === 'number' ? value.generation : null;
    return { memory: { rendered: asMap(value.rendered), listed: asMap(value.listed) }, generation };
  } catch {
    return null;
  }
}
