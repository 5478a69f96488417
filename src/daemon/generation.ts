/** How an incoming generation relates to the last accepted one (docs/protocol.md). */
export type GenerationVerdict = 'new' | 'stale' | 'duplicate' | 'conflict';

/**
 * Decides what to do with a pushed generation: lower is stale, equal with
 * the same spec is a duplicate, equal with another spec is a conflict (the
 * server reused a number), higher is new.
 */
export function judgeGeneration(
  current: { readonly generation: number; readonly spec: unknown } | null,
  incoming: { readonly generation: number; readonly spec: unknown },
): GenerationVerdict {
  if (current === null || incoming.generation > current.generation) return 'new';
  if (incoming.generation < current.generation) return 'stale';
  return isSameSpec(incoming.spec, current.spec) ? 'duplicate' : 'conflict';
}

// A spec too deeply nested to stringify (JSON.parse takes any depth, JSON.stringify
// overflows the stack) cannot equal an accepted one, which was stringified to be persisted.
function isSameSpec(incoming: unknown, current: unknown): boolean {
  try {
    return stableStringify(incoming) === stableStringify(current);
  } catch (error) {
    if (error instanceof RangeError) return false;
    throw error;
  }
}

/** JSON with object keys sorted, so two equal values give equal text. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
