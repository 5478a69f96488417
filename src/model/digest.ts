/**
 * A 64-bit digest of a text (cyrb53's mixing, run twice with different
 * seeds), printed as hex. For telling equal texts from different ones that
 * the agent itself produced or read back: not a cryptographic hash, and it
 * need not be, since whoever can edit the ruleset needs no collision.
 */
export function digestText(text: string): string {
  return `${mix(text, 0x9e3779b9)}${mix(text, 0x85ebca6b)}`;
}

function mix(text: string, seed: number): string {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return ((h2 >>> 0).toString(16).padStart(8, '0') + (h1 >>> 0).toString(16).padStart(8, '0')).slice(0, 16);
}
