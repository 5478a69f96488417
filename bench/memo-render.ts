import { renderAclPolicy, egressChainName, ingressChainName } from '../src/render/ruleset-policy.js';
import type { NftRule } from '../src/render/ruleset.js';
import type { DesiredState } from '../src/schema/desired-state.js';
import type { Document } from './documents.js';

/**
 * A sketch of the render side of an incremental update that does not render
 * the whole state again: each ACL list's chains are cached under the list's
 * JSON text, so a push that changes one item renders one list. Only the ACL
 * chains are covered (a change to networks, prefixes or the public interface
 * would re-render input and forward as today). The benchmark checks that the
 * document it builds equals the one derived from the full rendering.
 */

/** The remembered rendering: per network interface, the key of its list and its two chains' rules. */
export interface AclRenderMemo {
  readonly byInterface: Map<string, { key: string; chains: Map<string, readonly NftRule[]> }>;
  readonly byKey: Map<string, Map<string, readonly NftRule[]>>;
}

/** An empty memo. */
export function createAclRenderMemo(): AclRenderMemo {
  return { byInterface: new Map(), byKey: new Map() };
}

function renderListChains(state: DesiredState, interfaceName: string, aclId: string | undefined, memo: AclRenderMemo): { key: string; chains: Map<string, readonly NftRule[]> } {
  const list = state.aclLists.find((candidate) => candidate.id === aclId);
  // The chain names are part of the key: the same list on two tiers renders two pairs of chains.
  const key = `${interfaceName}\n${JSON.stringify(list ?? null)}`;
  let chains = memo.byKey.get(key);
  if (chains === undefined) {
    const policy = renderAclPolicy(list);
    chains = new Map([
      [egressChainName(interfaceName), policy.egress],
      [ingressChainName(interfaceName), policy.ingress],
    ]);
    memo.byKey.set(key, chains);
  }
  return { key, chains };
}

/**
 * Renders what changed since the memo's state and returns the per-chain
 * update document (flush + refill of the changed ACL chains), updating the
 * memo. With an empty memo every chain counts as changed.
 */
export function renderMemoisedAclUpdate(state: DesiredState, memo: AclRenderMemo): { document: Document; chains: string[] } {
  const changed = new Map<string, readonly NftRule[]>();
  for (const network of state.guestNetworks) {
    const rendered = renderListChains(state, network.interface, network.aclId, memo);
    const previous = memo.byInterface.get(network.interface);
    if (previous?.key === rendered.key) continue;
    // The list changed; of its two chains only those whose rules differ are replaced.
    for (const [name, rules] of rendered.chains) {
      const before = previous?.chains.get(name);
      if (before === undefined || JSON.stringify(before) !== JSON.stringify(rules)) changed.set(name, rules);
    }
    memo.byInterface.set(network.interface, rendered);
  }
  const table = { family: 'ip6', table: 'vr6_agent' };
  const names = [...changed.keys()].sort();
  const nftables = [
    { metainfo: { json_schema_version: 1 } },
    ...names.map((name) => ({ flush: { chain: { ...table, name } } })),
    ...names.flatMap((name) =>
      (changed.get(name) ?? []).map((rule) => ({
        add: { rule: { ...table, chain: name, ...(rule.comment === undefined ? {} : { comment: rule.comment }), expr: rule.expr } },
      })),
    ),
  ];
  return { document: { nftables: nftables as Record<string, unknown>[] }, chains: names };
}
