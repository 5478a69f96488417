import { ExecError, type Host } from '../host/host.js';
import { fileLayoutOf } from '../model/file-layout.js';
import type { ObservedRuleset } from '../model/observed.js';
import { readForeignTableWarnings } from '../observe/foreign-tables.js';
import { readRuleset, readRulesetChains, type ObservedReaders } from '../observe/read-host.js';
import type { Ledger } from '../plan/ledger.js';
import type { RulesetMemory } from '../plan/ruleset-plan.js';
import type { Step } from '../plan/steps.js';
import type { RenderedHost } from '../render/host-facts.js';
import type { AgentConfig } from '../schema/agent-config.js';
import { parseStateFile, RulesetMemoryFile } from '../schema/state-files.js';
import type { Room } from './room.js';
/** Up to this many chains waiting to be learned are listed one by one instead of the table. */
const CHAINS_LEARNED_ALONE = 3;

/** What one observation of the table cost. */
export interface RulesetObservation {
  readonly ruleset: ObservedRuleset | null;
  /** True when nft listed the table; false when the generation id proved nothing had changed. */
  readonly isListed: boolean;
}

/**
 * Watches the agent's table cheaply. Listing a large table is slow and costs
 * nft tens of megabytes; reading the nf_tables generation id, which the
 * kernel bumps on every committed transaction, costs next to nothing
 * (bench/README.md). The watch remembers the id at which its memory of the
 * table is true: after a commit of its own that moved the id by exactly one,
 * and after a listing. An unchanged id proves the table unchanged, so a
 * resync reads nothing else.
 *
 * The memory holds, per chain, the digest of what the agent rendered and the
 * digest of how nft lists it. Chains the agent has just loaded are listed at
 * the next observation, while the id still proves nobody else touched them:
 * one by one when they are few, else with the table.
 * Without the helper (no id) it lists every time, as a plain reconcile would.
 * The memory lives in the runtime directory: a reboot clears it with the table.
 *
 * It is the firewall's room in the reconcile loop: it answers for the table
 * in each observation, records the loop's ruleset commits, proves a plan of
 * only those converged when the id moved by exactly the agent's commits, and
 * reports the other tables that could override the agent's.
 */
export class RulesetWatch implements Room {
  private memory: RulesetMemory | null = null;
  /** The generation at which `memory.listed` (with its pending chains) is the truth. */
  private trusted: number | null = null;
  /** The generation read by the last observation. */
  private seen: number | null = null;
  private counters: ObservedRuleset['counters'] = new Map();
  private seenAfterCommit: number | null = null;
  private listedAt = Number.NEGATIVE_INFINITY;
  /** Whether nft listed the table since the other tables were last checked: they can only change when nf_tables does. */
  private hasListedSinceCheck = true;
  private foreignTableWarnings: readonly string[] = [];

  constructor(
    private readonly host: Host,
    private readonly config: AgentConfig,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether the last commit was proven to be the only one, so the table is exactly what was rendered. */
  get isLastCommitProven(): boolean {
    return this.trusted !== null && this.trusted === this.seenAfterCommit;
  }

  /** What the agent last loaded, for the planner. */
  get rulesetMemory(): RulesetMemory | null {
    return this.memory;
  }

  /** Loads the memory an earlier agent left in the runtime directory. */
  async load(): Promise<void> {
    const value = parseStateFile(await this.host.readFile(this.memoryPath()), RulesetMemoryFile);
    this.memory = value === null ? null : { rendered: value.rendered, listed: value.listed, unlisted: value.unlisted };
    this.trusted = value?.generation ?? null;
  }

  ledger(): Partial<Ledger> {
    return { ruleset: this.memory };
  }

  readers(isSettled: boolean): ObservedReaders {
    return {
      ruleset: async () => {
        const observation = await this.observe(isSettled);
        if (observation.isListed) this.hasListedSinceCheck = true;
        return observation.ruleset;
      },
    };
  }

  async afterStep(step: Step, rendered: RenderedHost): Promise<void> {
    if (step.kind === 'loadRuleset') await this.recordCommit(rendered, 'all', 1);
    else if (step.kind === 'loadRulesetStaged') await this.recordCommit(rendered, 'all', step.documents.length);
    else if (step.kind === 'updateRuleset') await this.recordCommit(rendered, step.chains, 1);
  }

  // A ruleset step committed with nobody else's in between (the generation id says so) leaves
  // the table exactly as rendered: everything else matched when it was planned.
  proves(step: Step): boolean {
    const isRulesetStep = step.kind === 'loadRuleset' || step.kind === 'loadRulesetStaged' || step.kind === 'updateRuleset';
    return isRulesetStep && this.isLastCommitProven;
  }

  async warnings(): Promise<readonly string[]> {
    if (!this.hasListedSinceCheck) return this.foreignTableWarnings;
    try {
      this.foreignTableWarnings = await readForeignTableWarnings(this.host, this.config);
    } catch (error) {
      this.foreignTableWarnings = [`cannot check other nftables tables: ${(error as Error).message}`];
    }
    this.hasListedSinceCheck = false;
    return this.foreignTableWarnings;
  }

  /**
   * Observes the table, listing it only when its generation moved, usage is
   * due, or (with `isLearning`) chains written earlier wait to be listed. Only
   * a resync learns, before it applies anything, so the listing that learning
   * takes stays out of the path of a change: a push that moves one routed
   * prefix right after one that rewrote the forward chain would otherwise
   * wait for nft to list that chain (bench/README.md).
   */
  async observe(isLearning: boolean): Promise<RulesetObservation> {
    const generation = await this.readGeneration();
    this.seen = generation;
    const isProven = generation !== null && generation === this.trusted && this.memory !== null;
    const isUsageDue = this.now() - this.listedAt >= this.config.rulesetListSeconds * 1000;
    // Chains waiting to be learned are listed for that only when learning; a listing made anyway teaches them too.
    const unlisted = this.pendingChains();
    const pending = isLearning ? unlisted : [];
    if (isProven && !isUsageDue && pending.length === 0) {
      return { ruleset: { chains: this.memory!.listed, counters: this.counters }, isListed: false };
    }
    if (isProven && !isUsageDue && pending.length <= CHAINS_LEARNED_ALONE) {
      // A few chains to learn (a push rewrites one or two): each listed alone costs a fraction of the
      // table's listing (bench/README.md), and nft prints it the same (docs/field-notes.md#nftables).
      const listed = await readRulesetChains(this.host, this.config, pending);
      if ((await this.readGeneration()) === generation) {
        this.learn(listed, pending);
        return { ruleset: { chains: this.memory!.listed, counters: this.counters }, isListed: false };
      }
      // Someone committed meanwhile: the table is listed whole below, as for any move of the id.
    }
    const ruleset = await readRuleset(this.host, this.config);
    this.counters = ruleset?.counters ?? new Map();
    this.listedAt = this.now();
    if (isProven && ruleset !== null && unlisted.length > 0) {
      // The listing tells how nft prints what the agent wrote only if nobody committed while it
      // was taken: an `nft flush table` between the id and the listing would be learned as ours.
      if ((await this.readGeneration()) === generation) this.learn(ruleset, unlisted);
    } else if (!isProven && generation !== null && ruleset !== null && this.isAsRemembered(ruleset)) {
      // Someone committed elsewhere (another table, say): ours is intact, so
      // this generation proves it until the next commit.
      this.trusted = generation;
    }
    return { ruleset, isListed: true };
  }

  private isAsRemembered(ruleset: ObservedRuleset): boolean {
    const memory = this.memory;
    if (memory === null || memory.unlisted.size > 0 || ruleset.chains.size !== memory.listed.size) return false;
    return [...memory.listed].every(([name, digest]) => ruleset.chains.get(name) === digest);
  }

  /** Records `commits` transactions of the agent's own: `chains` are the ones it wrote, or 'all'. */
  async recordCommit(rendered: RenderedHost, chains: readonly string[] | 'all', commits: number): Promise<void> {
    const after = await this.readGeneration();
    this.seenAfterCommit = after;
    if (after === null) {
      // No generation id: only a listing right now can tell later edits from this write.
      const listed = new Map((await readRuleset(this.host, this.config))?.chains ?? []);
      this.memory = { rendered: rendered.chainFingerprints, listed, unlisted: new Set() };
      this.trusted = null;
    } else {
      // Untouched chains are as listed before; the written ones stand in
      // with their rendering until an observation the id proves lists them.
      // When someone else committed too, the id proves nothing: the next
      // observation lists the table, and a written chain is rewritten once.
      const written = chains === 'all' ? [...rendered.chainFingerprints.keys()] : chains.filter((name) => rendered.chainFingerprints.has(name));
      const kept = chains === 'all' ? [] : [...(this.memory?.listed ?? [])].filter(([name]) => rendered.chainFingerprints.has(name) && !written.includes(name));
      const listed = new Map([...kept, ...written.map((name) => [name, `unlisted ${rendered.chainFingerprints.get(name)}`] as const)]);
      const unlisted = new Set([...(this.memory?.unlisted ?? [])].filter((name) => listed.has(name)).concat(written));
      this.memory = { rendered: rendered.chainFingerprints, listed, unlisted };
      this.trusted = this.seen !== null && after === this.seen + commits ? after : null;
      // The counters are now the rendered ones: new ones start at zero, deleted ones are gone.
      const zero = { packets: 0, bytes: 0 };
      this.counters = new Map(rendered.ruleset.counters.map((name) => [name, this.counters.get(name) ?? zero]));
    }
    await this.persist();
  }

  private pendingChains(): string[] {
    return [...(this.memory?.unlisted ?? [])];
  }

  // Learned digests stay in memory only: a resync writes nothing, and a
  // restarted agent learns them again with one listing.
  private learn(ruleset: Pick<ObservedRuleset, 'chains'>, pending: readonly string[]): void {
    const memory = this.memory!;
    const listed = new Map(memory.listed);
    const unlisted = new Set(memory.unlisted);
    for (const name of pending) {
      const digest = ruleset.chains.get(name);
      if (digest === undefined) continue;
      listed.set(name, digest);
      unlisted.delete(name);
    }
    this.memory = { rendered: memory.rendered, listed, unlisted };
  }

  private async readGeneration(): Promise<number | null> {
    const command = this.config.commands.nftGenid;
    if (command === '') return null;
    try {
      // Kept running: a spawn from the agent costs more than the read.
      const [line] = await this.host.ask([command, '--serve'], [''], { timeoutMs: 5000 });
      const id = Number(line?.trim() || 'NaN');
      return Number.isSafeInteger(id) ? id : null;
    } catch (error) {
      if (error instanceof ExecError) return null;
      throw error;
    }
  }

  private async persist(): Promise<void> {
    const memory = this.memory;
    if (memory === null) return;
    const value = {
      generation: this.trusted,
      rendered: Object.fromEntries(memory.rendered),
      listed: Object.fromEntries(memory.listed),
      unlisted: [...memory.unlisted],
    };
    await this.host.writeFileAtomic(this.memoryPath(), `${JSON.stringify(value)}\n`, 0o600);
  }

  private memoryPath(): string {
    return fileLayoutOf(this.config).rulesetMemory;
  }
}
