/**
 * Normalises `nft -j list table` output into a stable text: handles and
 * counter values removed, since they change without anyone editing the
 * table. Two listings are equal exactly when the table's objects are.
 */
export function normaliseRulesetListing(json: unknown): string {
  const items = (json as { nftables?: unknown[] } | null)?.nftables;
  if (!Array.isArray(items)) return '';
  const objects = items.filter((item) => typeof item === 'object' && item !== null && !('metainfo' in item));
  return JSON.stringify(objects, (key, value: unknown) => {
    if (key === 'handle') return undefined;
    if (key === 'counter' && typeof value === 'object' && value !== null) return {};
    return value;
  });
}
