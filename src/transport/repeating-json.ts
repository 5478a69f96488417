/**
 * JSON.parse for frames that mostly repeat the one before.
 *
 * Every push carries the whole desired state: a 10,000-item policy is a
 * frame of megabytes, and a push that changes one ACL item or moves one of a
 * thousand routed prefixes repeats the rest byte for byte. JSON.parse builds
 * all of it again, which is most of the parse of such a push and a lot of
 * garbage. This parser remembers the elements of some arrays of the last
 * frame (paths such as `spec.aclLists`, or `spec.guestNetworks[*].routedPrefixes`
 * with EACH for the `*`) by their bytes; elements whose bytes repeat are not
 * parsed again, and the result holds the values parsed before. With the
 * values come the elements' texts (`sourceOf`), which the schema takes as
 * their keys instead of printing them again (parseDesiredState's options).
 * Values are shared between frames, and between equal elements of one frame
 * found by their text, so the rule stated on DesiredState
 * (schema/desired-state.ts) covers them: nothing mutates them.
 *
 * The answer is JSON.parse's own. The scanner (json-frame-scan.ts) only
 * tokenises. Each repeated element is replaced by `null` and the rest goes
 * through JSON.parse. A replaced element is a complete JSON value (it parsed
 * before) and `null` a literal that nothing can extend (a `0` could become
 * `0.5` or `0e5`), so the frame is valid exactly when the text with the
 * nulls is, and its value is that one with the elements put back. Whatever
 * the scanner cannot vouch for (an escaped key on the way, a key twice, an
 * unexpected shape) goes to JSON.parse whole, which also gives the error of
 * an invalid frame.
 *
 * Runs of elements repeated in their order, separators included, are found
 * with a few compares each (a doubling search); an element that breaks a run
 * is scanned, and still found by its text if the last frame had it elsewhere.
 * With nothing remembered (the first frame), the frame is JSON.parse's whole
 * and each element is remembered as JSON.stringify prints it, which is the
 * text a compact sender sends again; a sender that spaces its JSON is
 * remembered by its own bytes from its second frame on.
 */

import { isPlainJson, type JsonSourceOf } from '../schema/desired-state-parser.js';
import { MIN_ELEMENT_BYTES, scanFrame, type FoundArray, type LastFrame, type PathNode, type Remembered, type Slot } from './json-frame-scan.js';

/** What stands for a repeated element in the text JSON.parse reads. */
const NULL = Buffer.from('null');

/** In a path: each element of an array. */
export const EACH: unique symbol = Symbol('each element');
/** Object keys from the root, and EACH for every element of an array, down to an array whose elements are remembered. */
export type JsonArrayPath = readonly (string | typeof EACH)[];

/** A frame as JSON.parse gives it, and the text of each remembered element of its arrays. */
export interface ParsedJson {
  readonly value: unknown;
  /** The text of an object or array element of this frame's arrays that is 32 bytes or longer; undefined for anything else. */
  readonly sourceOf: JsonSourceOf;
}

const NO_SOURCES: JsonSourceOf = () => undefined;
const NOTHING_REMEMBERED: LastFrame = { bytes: Buffer.alloc(0), arrays: new Map(), byText: new Map() };

export class RepeatingJsonParser {
  private readonly root: PathNode;
  /** How deep the scanner tracks containers: to the elements of the deepest array. */
  private readonly trackedDepth: number;
  private last = NOTHING_REMEMBERED;

  /** `paths`: the arrays whose elements are remembered; none of them inside another. */
  constructor(paths: readonly JsonArrayPath[]) {
    this.root = buildPathTree(paths);
    this.trackedDepth = Math.max(0, ...paths.map((path) => path.length)) + 2;
  }

  /**
   * Parses UTF-8 JSON as JSON.parse does; throws its SyntaxError for text
   * that is not JSON. The parser may keep `bytes` until the next frame, to
   * compare it with: the caller must not change them after the call (a
   * websocket message's buffer is its own).
   */
  parse(bytes: Buffer): ParsedJson {
    if (this.last.byText.size === 0) return this.parseFirst(bytes);
    const whole = () => ({ value: JSON.parse(bytes.toString('utf8')) as unknown, sourceOf: NO_SOURCES });
    const found = scanFrame(bytes, this.root, this.trackedDepth, this.last);
    if (found === null) return whole();
    const value = found.some((array) => array.runs.length > 0) ? parseWithPlaceholders(bytes, found) : (JSON.parse(bytes.toString('utf8')) as unknown);
    if (value === undefined) return whole();
    const arrays = arraysIn(value, found);
    // A frame without the arrays (a reconcile message) leaves the last one's remembered.
    if (arrays === null || found.length === 0) return { value, sourceOf: NO_SOURCES };
    const sources = this.remember(bytes, found, arrays);
    return { value, sourceOf: (element) => sources.get(element) };
  }

  // Nothing to repeat: JSON.parse, and each element of the arrays remembered as JSON.stringify prints it.
  private parseFirst(bytes: Buffer): ParsedJson {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    const located: { key: string; values: unknown[]; texts: (string | null)[] }[] = [];
    for (const { path, values } of arraysAt(value, this.root, [])) {
      const texts = values.map((element) => (typeof element === 'object' && element !== null && isPlainJson(element) ? JSON.stringify(element) : null));
      located.push({ key: JSON.stringify(path), values, texts: texts.map((text) => (text !== null && text.length >= MIN_ELEMENT_BYTES ? text : null)) });
    }
    if (located.length === 0) return { value, sourceOf: NO_SOURCES };
    const size = located.reduce((sum, { texts }) => texts.reduce((n, text) => n + (text === null ? 0 : Buffer.byteLength(text) + 1), sum), 0);
    const printed = Buffer.allocUnsafe(size);
    let at = 0;
    const byText = new Map<string, Remembered>();
    const arrays = new Map<string, (Slot | null)[]>();
    const sources = new Map<object, string>();
    for (const { key, values, texts } of located) {
      const slots = texts.map((text, position): Slot | null => {
        if (text === null) return null;
        const start = at;
        at += printed.write(text, at);
        // The separator a compact sender puts between elements, so a run of them compares as one range.
        printed[at++] = 0x2c;
        const entry: Remembered = { text, value: values[position], start, end: at - 1, arrayKey: key, position };
        byText.set(text, entry);
        sources.set(values[position] as object, text);
        return { entry, start, end: entry.end, runEnd: 0 };
      });
      arrays.set(key, withRunEnds(slots));
    }
    this.last = byText.size === 0 ? NOTHING_REMEMBERED : { bytes: printed, arrays, byText };
    return { value, sourceOf: (element) => sources.get(element) };
  }

  // Bounded by one frame: what the frame before held is forgotten. Returns this frame's elements' texts.
  private remember(bytes: Buffer, found: readonly FoundArray[], arrays: readonly unknown[][]): Map<object, string> {
    const byText = new Map<string, Remembered>();
    const byArray = new Map<string, (Slot | null)[]>();
    const sources = new Map<object, string>();
    const keep = (array: FoundArray, slots: (Slot | null)[], position: number, entry: Remembered, start: number, end: number) => {
      slots[position] = { entry, start, end, runEnd: 0 };
      entry.start = start;
      entry.end = end;
      entry.arrayKey = array.key;
      entry.position = position;
      byText.set(entry.text, entry);
      if (typeof entry.value === 'object' && entry.value !== null) sources.set(entry.value, entry.text);
    };
    found.forEach((array, j) => {
      const slots = new Array<Slot | null>(array.count).fill(null);
      for (const run of array.runs) {
        for (let k = 0; k < run.count; k++) {
          const slot = run.old[run.from + k]!;
          keep(array, slots, run.index + k, slot.entry, slot.start + run.delta, slot.end + run.delta);
        }
      }
      for (const element of array.news) {
        const entry: Remembered = { text: element.text, value: arrays[j]![element.index], start: 0, end: 0, arrayKey: '', position: 0 };
        keep(array, slots, element.index, entry, element.start, element.end);
      }
      byArray.set(array.key, withRunEnds(slots));
    });
    // Kept, not copied (parse's contract): a copy of a 1.5 MB frame cost 2-3 ms a push in a fresh Node 18.
    this.last = byText.size === 0 ? NOTHING_REMEMBERED : { bytes, arrays: byArray, byText };
    return sources;
  }
}

// Each place's runEnd: the last place of the stretch without a gap that it is in.
function withRunEnds(slots: (Slot | null)[]): (Slot | null)[] {
  for (let k = slots.length - 1; k >= 0; k--) {
    const slot = slots[k];
    if (slot) slot.runEnd = slots[k + 1] ? slots[k + 1]!.runEnd : k;
  }
  return slots;
}

function buildPathTree(paths: readonly JsonArrayPath[]): PathNode {
  const node = (): PathNode => ({ keys: new Map(), each: null, isTarget: false });
  const root = node();
  for (const path of paths) {
    let at = root;
    for (const segment of path) {
      if (at.isTarget) throw new Error('a remembered array inside another');
      if (segment === EACH) at = at.each ??= node();
      else at = at.keys.get(segment) ?? at.keys.set(segment, node()).get(segment)!;
    }
    if (at.keys.size > 0 || at.each !== null) throw new Error('a remembered array inside another');
    at.isTarget = true;
  }
  return root;
}

// The arrays at the tree's paths in a parsed value, with their paths (indices for EACH).
function arraysAt(value: unknown, node: PathNode, path: (string | number)[]): { path: (string | number)[]; values: unknown[] }[] {
  if (node.isTarget) return Array.isArray(value) ? [{ path, values: value }] : [];
  if (Array.isArray(value)) return node.each === null ? [] : value.flatMap((element, i) => arraysAt(element, node.each!, [...path, i]));
  if (!isObject(value)) return [];
  return [...node.keys].flatMap(([key, child]) => (Object.prototype.hasOwnProperty.call(value, key) ? arraysAt(value[key], child, [...path, key]) : []));
}

// The frame with repeated elements as null, parsed, and the elements put back; undefined when that does not hold up.
function parseWithPlaceholders(bytes: Buffer, found: readonly FoundArray[]): unknown {
  const runs = found.flatMap((array) => array.runs);
  let size = bytes.length;
  for (const run of runs) for (let k = 0; k < run.count; k++) size += NULL.length - (run.old[run.from + k]!.end - run.old[run.from + k]!.start);
  const text = Buffer.allocUnsafe(size);
  let at = 0;
  let from = 0;
  for (const run of runs) {
    for (let k = 0; k < run.count; k++) {
      const slot = run.old[run.from + k]!;
      at = copyBytes(bytes, from, slot.start + run.delta, text, at);
      text[at] = NULL[0]!;
      text[at + 1] = NULL[1]!;
      text[at + 2] = NULL[2]!;
      text[at + 3] = NULL[3]!;
      at += 4;
      from = slot.end + run.delta;
    }
  }
  copyBytes(bytes, from, bytes.length, text, at);
  let value: unknown;
  try {
    value = JSON.parse(text.toString('utf8'));
  } catch {
    return undefined;
  }
  const arrays = arraysIn(value, found);
  if (arrays === null) return undefined;
  for (const [j, array] of found.entries()) {
    const values = arrays[j]!;
    for (const run of array.runs) {
      for (let k = 0; k < run.count; k++) {
        if (values[run.index + k] !== null) return undefined;
        values[run.index + k] = run.old[run.from + k]!.entry.value;
      }
    }
  }
  return value;
}

// Copies bytes[from, to) to target at `at`; the gaps between repeated elements are mostly a comma, not worth a native call.
function copyBytes(bytes: Buffer, from: number, to: number, target: Buffer, at: number): number {
  if (to - from > 64) return at + bytes.copy(target, at, from, to);
  for (let i = from; i < to; i++) target[at++] = bytes[i]!;
  return at;
}

// The arrays the scanner found, in the value; null when one is not there with as many elements.
function arraysIn(value: unknown, found: readonly FoundArray[]): unknown[][] | null {
  const arrays: unknown[][] = [];
  for (const array of found) {
    let at: unknown = value;
    for (const segment of array.path) {
      if (typeof segment === 'number') at = Array.isArray(at) ? at[segment] : undefined;
      else at = isObject(at) ? at[segment] : undefined;
    }
    if (!Array.isArray(at) || at.length !== array.count) return null;
    arrays.push(at);
  }
  return arrays;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
