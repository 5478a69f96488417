/**
 * JSON.parse for frames that mostly repeat the one before.
 *
 * Every push carries the whole desired state: a 10,000-item policy is a
 * frame of megabytes, and a push that changes one ACL item repeats the other
 * lists byte for byte. JSON.parse builds all of them again, which is most of the
 * parse of such a push and megabytes of garbage. This parser remembers the
 * elements of one array of the last frame (`spec.aclLists`) by their bytes;
 * an element whose bytes repeat is not parsed again, and the result holds the
 * value parsed before. With the value comes each element's text
 * (`sourceOf`), which the schema takes as the element's key instead of
 * printing it again (parseDesiredState's options). Values are shared between
 * frames, so the rule stated on DesiredState (schema/desired-state.ts)
 * covers them: nothing mutates them.
 *
 * The answer is JSON.parse's own. The scanner only tokenises: strings with
 * their escapes, nesting, and the keys on the way to the array. Each
 * repeated element is replaced by `0` and the rest goes through JSON.parse.
 * A replaced element is a complete JSON value (it parsed before), so the
 * frame is valid exactly when the text with the zeros is, and its value is
 * that one with the elements put back. Whatever the scanner cannot vouch for
 * (an escaped key on the way, a key twice, an unexpected shape) goes to
 * JSON.parse whole, which also gives the error of an invalid frame.
 */

import type { JsonSourceOf } from '../schema/desired-state-parser.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;

/** Elements shorter than this are parsed again: their first bytes are the lookup key. */
const PREFIX_BYTES = 64;
/** More elements than this and the frame is parsed whole (the schema allows 256 ACL lists). */
const MAX_ELEMENTS = 1024;
/** How many bytes a frame may spend comparing, per byte of the frame: a crowd of elements alike costs no more. */
const COMPARE_BUDGET_PER_BYTE = 4;

interface Remembered {
  readonly bytes: Buffer;
  /** The bytes as text, decoded once: the key the schema files the value under. */
  readonly text: string;
  readonly value: unknown;
}

/** A frame as JSON.parse gives it, and the text of each remembered element of its array. */
export interface ParsedJson {
  readonly value: unknown;
  /** The text of an element of this frame's array that is 64 bytes or longer; undefined for anything else. */
  readonly sourceOf: JsonSourceOf;
}

const NO_SOURCES: JsonSourceOf = () => undefined;

interface Element {
  readonly start: number;
  end: number;
  /** The remembered element these bytes repeat, or null when they are parsed now. */
  readonly repeats: Remembered | null;
}

const isWhitespace = (byte: number | undefined) => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;

export class RepeatingJsonParser {
  /** The last frame's elements, by their first PREFIX_BYTES bytes (latin1). */
  private remembered = new Map<string, Remembered[]>();

  /** `path`: the keys from the root object to the array whose elements are remembered. */
  constructor(private readonly path: readonly [string, string]) {}

  /** Parses UTF-8 JSON as JSON.parse does; throws its SyntaxError for text that is not JSON. */
  parse(bytes: Buffer): ParsedJson {
    const whole = () => ({ value: JSON.parse(bytes.toString('utf8')) as unknown, sourceOf: NO_SOURCES });
    const elements = this.scan(bytes);
    if (elements === null) return whole();
    const value = elements.some((e) => e.repeats !== null) ? this.parseWithZeros(bytes, elements) : JSON.parse(bytes.toString('utf8'));
    if (value === undefined) return whole();
    const array = this.arrayIn(value);
    const sources = array === null ? null : this.remember(bytes, elements, array);
    return { value, sourceOf: sources === null ? NO_SOURCES : (element) => sources.get(element) };
  }

  // The frame with repeated elements as 0, parsed, and the elements put back; undefined when that does not hold up.
  private parseWithZeros(bytes: Buffer, elements: readonly Element[]): unknown {
    const pieces: Buffer[] = [];
    let from = 0;
    for (const element of elements) {
      if (element.repeats === null) continue;
      pieces.push(bytes.subarray(from, element.start), ZERO);
      from = element.end;
    }
    pieces.push(bytes.subarray(from));
    let value: unknown;
    try {
      value = JSON.parse(Buffer.concat(pieces).toString('utf8'));
    } catch {
      return undefined;
    }
    const array = this.arrayIn(value);
    if (array === null || array.length !== elements.length) return undefined;
    for (const [index, element] of elements.entries()) {
      if (element.repeats === null) continue;
      if (array[index] !== 0) return undefined;
      array[index] = element.repeats.value;
    }
    return value;
  }

  private arrayIn(value: unknown): unknown[] | null {
    const [outer, inner] = this.path;
    const container = isObject(value) ? value[outer] : undefined;
    const array = isObject(container) ? container[inner] : undefined;
    return Array.isArray(array) ? array : null;
  }

  // Bounded by one frame: what the frame before held is forgotten. Returns this frame's elements' texts.
  private remember(bytes: Buffer, elements: readonly Element[], array: readonly unknown[]): Map<object, string> | null {
    if (array.length !== elements.length) return null;
    const remembered = new Map<string, Remembered[]>();
    const sources = new Map<object, string>();
    for (const [index, element] of elements.entries()) {
      if (element.end - element.start < PREFIX_BYTES) continue;
      let entry = element.repeats;
      if (entry === null) {
        // A copy: a view would keep the whole frame alive.
        const copy = Buffer.from(bytes.subarray(element.start, element.end));
        entry = { bytes: copy, text: copy.toString('utf8'), value: array[index] };
      }
      if (typeof entry.value === 'object' && entry.value !== null) sources.set(entry.value, entry.text);
      const key = entry.bytes.toString('latin1', 0, PREFIX_BYTES);
      remembered.set(key, [...(remembered.get(key) ?? []), entry]);
    }
    this.remembered = remembered;
    return sources;
  }

  /**
   * The remembered element these bytes start with, if any. Lists may well
   * start alike (their first items), so candidates share a prefix: the last
   * bytes are compared first, and the whole of a candidate only when they
   * match. `budget` bounds the bytes of whole compares in one frame, so many
   * elements alike but for their middles cannot make it quadratic.
   */
  private findRepeat(bytes: Buffer, start: number, budget: { bytes: number }): Remembered | null {
    const candidates = this.remembered.get(bytes.toString('latin1', start, start + PREFIX_BYTES));
    for (const candidate of candidates ?? []) {
      const length = candidate.bytes.length;
      const end = start + length;
      if (end > bytes.length || budget.bytes < length) continue;
      // At most MAX_ELEMENTS² of these short compares: not charged.
      if (bytes.compare(candidate.bytes, length - PREFIX_BYTES, length, end - PREFIX_BYTES, end) !== 0) continue;
      budget.bytes -= length;
      if (bytes.compare(candidate.bytes, 0, length, start, end) === 0) return candidate;
    }
    return null;
  }

  /**
   * The elements of the array at `path`, with those that repeat a remembered
   * one; [] when the frame has no such array, null when the scanner cannot
   * vouch for the frame's shape.
   */
  private scan(bytes: Buffer): Element[] | null {
    const [outer, inner] = this.path;
    const elements: Element[] = [];
    // Kinds (object or array) and the last key read, for the three levels on the way to the array.
    const isObjectAt = [false, false, false, false];
    const keyAt: (string | null)[] = [null, null, null, null];
    const expectsKeyAt = [false, false, false, false];
    let depth = 0;
    let isOnPath = false; // the container at depth 2 is root[outer]
    let isInArray = false; // the container at depth 3 is root[outer][inner]
    let outerSeen = 0;
    let innerSeen = 0;
    let awaitsElement = false;
    let open: Element | null = null;
    const budget = { bytes: COMPARE_BUDGET_PER_BYTE * bytes.length };
    let i = 0;
    while (i < bytes.length) {
      const byte = bytes[i]!;
      if (awaitsElement && !isWhitespace(byte)) {
        awaitsElement = false;
        if (byte !== CLOSE_ARRAY) {
          if (elements.length >= MAX_ELEMENTS) return null;
          const repeats = this.findRepeat(bytes, i, budget);
          if (repeats !== null) {
            elements.push({ start: i, end: i + repeats.bytes.length, repeats });
            i += repeats.bytes.length;
            continue;
          }
          open = { start: i, end: -1, repeats: null };
          elements.push(open);
        }
      }
      switch (byte) {
        case QUOTE: {
          const end = closingQuote(bytes, i);
          if (end < 0) return null;
          if (depth <= 2 && isObjectAt[depth] && expectsKeyAt[depth]) {
            // A key on the way: compared as bytes, so an escaped one could hide a name.
            if (bytes.subarray(i + 1, end).includes(BACKSLASH)) return null;
            const key = bytes.toString('latin1', i + 1, end);
            keyAt[depth] = key;
            expectsKeyAt[depth] = false;
            if (depth === 1 && key === outer && ++outerSeen > 1) return null;
            if (depth === 2 && isOnPath && key === inner && ++innerSeen > 1) return null;
          }
          i = end + 1;
          continue;
        }
        case OPEN_OBJECT:
        case OPEN_ARRAY: {
          depth++;
          if (depth <= 3) {
            const isObjectNow = byte === OPEN_OBJECT;
            if (depth === 2) isOnPath = isObjectNow && isObjectAt[1]! && keyAt[1] === outer;
            if (depth === 3) {
              isInArray = !isObjectNow && isOnPath && isObjectAt[2]! && keyAt[2] === inner;
              awaitsElement = isInArray;
            }
            isObjectAt[depth] = isObjectNow;
            expectsKeyAt[depth] = isObjectNow;
            keyAt[depth] = null;
          }
          break;
        }
        case CLOSE_OBJECT:
        case CLOSE_ARRAY: {
          if (depth === 3 && isInArray) {
            if (open !== null) open.end = trimEnd(bytes, i);
            open = null;
            isInArray = false;
            awaitsElement = false;
          }
          if (depth === 2) isOnPath = false;
          depth--;
          if (depth < 0) return null;
          break;
        }
        case COMMA: {
          if (depth === 3 && isInArray) {
            if (open !== null) open.end = trimEnd(bytes, i);
            open = null;
            awaitsElement = true;
          } else if (depth <= 2 && isObjectAt[depth]) {
            expectsKeyAt[depth] = true;
          }
          break;
        }
        case COLON:
        default:
          break;
      }
      i++;
    }
    if (depth !== 0 || open !== null) return null;
    return elements;
  }
}

const ZERO = Buffer.from('0');

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// The index of the quote that closes the string opening at `start`, or -1.
function closingQuote(bytes: Buffer, start: number): number {
  let from = start + 1;
  for (;;) {
    const quote = bytes.indexOf(QUOTE, from);
    if (quote < 0) return -1;
    let backslashes = 0;
    while (bytes[quote - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
    from = quote + 1;
  }
}

// The end of the value before the separator at `at`: trailing whitespace is not part of it.
function trimEnd(bytes: Buffer, at: number): number {
  let end = at;
  while (end > 0 && isWhitespace(bytes[end - 1])) end--;
  return end;
}
