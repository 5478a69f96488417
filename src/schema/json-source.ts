/**
 * The JSON text a value was parsed from, for values that a parser shares
 * between inputs (RepeatingJsonParser hands a list that a frame repeats over
 * as the object of the frame before). A consumer that keys its work by JSON
 * text takes this one instead of printing the value again. Such values are
 * JSON.parse of their text and nobody mutates them.
 */
const sources = new WeakMap<object, string>();

/** Records that `value` is JSON.parse(text); the parser that made it promises never to change it. */
export function recordJsonSource(value: object, text: string): void {
  sources.set(value, text);
}

/** The JSON text `value` was parsed from, when a sharing parser recorded it. */
export function jsonSourceOf(value: object): string | undefined {
  return sources.get(value);
}
