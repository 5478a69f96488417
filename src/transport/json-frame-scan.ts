/**
 * The scanner of RepeatingJsonParser (repeating-json.ts): one pass over a
 * frame that finds the arrays at the parser's paths and, in them, the runs
 * of elements that repeat the last frame's byte for byte. It only
 * tokenises: strings with their escapes, nesting, and the keys and indices
 * on the way to the arrays; JSON.parse judges the rest.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;

/** Elements shorter than this are parsed again: comparing them would cost about what parsing them does. */
export const MIN_ELEMENT_BYTES = 32;

/** The parser's paths as a tree: what the container at one place holds on the way to the arrays. */
export interface PathNode {
  readonly keys: Map<string, PathNode>;
  each: PathNode | null;
  isTarget: boolean;
}

/** An element of an earlier frame: its text and value, and where its bytes and last place are. */
export interface Remembered {
  /** The bytes as text, decoded once: the key the schema files the value under. */
  readonly text: string;
  readonly value: unknown;
  start: number;
  end: number;
  arrayKey: string;
  position: number;
}

/** One place of an array of the last frame: its element's bytes there, and how far the places without a gap go on. */
export interface Slot {
  readonly entry: Remembered;
  readonly start: number;
  readonly end: number;
  runEnd: number;
}

/** What the last frame left: its bytes (or what stands for them), its arrays' places by key, and its elements by text. */
export interface LastFrame {
  readonly bytes: Buffer;
  readonly arrays: ReadonlyMap<string, readonly (Slot | null)[]>;
  readonly byText: ReadonlyMap<string, Remembered>;
}

/** Elements index .. index+count-1 of a found array repeat places from .. of `old`, `delta` bytes further on. */
export interface Run {
  readonly index: number;
  readonly old: readonly (Slot | null)[];
  readonly from: number;
  readonly count: number;
  readonly delta: number;
}

/** An element of MIN_ELEMENT_BYTES or more parsed now, with its text. */
export interface NewElement {
  readonly index: number;
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

/** An array at one of the paths, as the scanner found it. */
export interface FoundArray {
  /** Its path with the indices, as JSON: the same array in the next frame has the same key. */
  readonly key: string;
  readonly path: readonly (string | number)[];
  readonly runs: Run[];
  readonly news: NewElement[];
  count: number;
  /** The last frame's array at the same key, and the place in it of the element the next one most likely repeats. */
  readonly old: readonly (Slot | null)[] | undefined;
  expected: number;
}

/** More arrays on the paths than a valid state has (256 guest networks and the ACL lists). */
const MAX_FOUND_ARRAYS = 512;

const isWhitespace = (byte: number | undefined) => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;

/** The arrays at the paths and their elements; null when the scanner cannot vouch for the frame's shape. */
export function scanFrame(bytes: Buffer, root: PathNode, trackedDepth: number, last: LastFrame): FoundArray[] | null {
  return new FrameScan(bytes, root, trackedDepth, last).run();
}

class FrameScan {
  private readonly found: FoundArray[] = [];
  private depth = 0;
  // Per depth down to trackedDepth: the container's place in the path tree (null: on no path), its kind, and
  // for an object the last key read, whether a key comes next and the path keys seen; for an array the index.
  private readonly nodeAt: (PathNode | null)[];
  private readonly isObjectAt: boolean[];
  private readonly keyAt: (string | null)[];
  private readonly expectsKeyAt: boolean[];
  private readonly seenAt: string[][];
  private readonly indexAt: number[];
  private target: FoundArray | null = null;
  private targetDepth = -1;
  private awaitsElement = false;
  /** Where the element being scanned starts, and its index; -1 when none is. No object per element: a frame may hold a million short ones. */
  private openStart = -1;
  private openIndex = 0;

  constructor(
    private readonly bytes: Buffer,
    private readonly root: PathNode,
    trackedDepth: number,
    private readonly last: LastFrame,
  ) {
    this.nodeAt = new Array<PathNode | null>(trackedDepth).fill(null);
    this.isObjectAt = new Array<boolean>(trackedDepth).fill(false);
    this.keyAt = new Array<string | null>(trackedDepth).fill(null);
    this.expectsKeyAt = new Array<boolean>(trackedDepth).fill(false);
    this.seenAt = Array.from({ length: trackedDepth }, () => []);
    this.indexAt = new Array<number>(trackedDepth).fill(0);
  }

  run(): FoundArray[] | null {
    const { bytes } = this;
    let i = 0;
    while (i < bytes.length) {
      const byte = bytes[i]!;
      if (this.awaitsElement && !isWhitespace(byte)) {
        this.awaitsElement = false;
        if (byte !== CLOSE_ARRAY) {
          const end = this.startElement(i);
          if (end > i) {
            i = end;
            continue;
          }
        }
      }
      switch (byte) {
        case QUOTE: {
          const end = closingQuote(bytes, i);
          if (end < 0 || !this.readString(i, end)) return null;
          i = end + 1;
          continue;
        }
        case OPEN_OBJECT:
        case OPEN_ARRAY: {
          const node = this.nodeFor(byte === OPEN_OBJECT);
          if (node === null) {
            // On no path: skipped by a loop small enough for V8 to compile in no time (this one takes milliseconds).
            const end = skipContainer(bytes, i);
            if (end < 0) return null;
            i = end;
            continue;
          }
          this.enter(byte === OPEN_OBJECT, node);
          // Each array found costs a record kept to the next frame: a frame of more than any valid state holds goes to JSON.parse whole.
          if (this.found.length > MAX_FOUND_ARRAYS) return null;
          break;
        }
        case CLOSE_OBJECT:
        case CLOSE_ARRAY:
          if (this.depth === this.targetDepth) this.closeTarget(i);
          if (--this.depth < 0) return null;
          break;
        case COMMA:
          this.separate(i);
          break;
        default:
          break;
      }
      i++;
    }
    if (this.depth !== 0 || this.openStart >= 0) return null;
    return this.found;
  }

  // An element of the target array starts at i: the end of the run of remembered elements it starts, else i (it is scanned).
  private startElement(i: number): number {
    const target = this.target!;
    const { old, expected } = target;
    const first = old?.[expected];
    if (old !== undefined && first) {
      const count = matchRun(this.bytes, i, this.last.bytes, old, expected);
      if (count > 0) {
        const delta = i - first.start;
        target.runs.push({ index: target.count, old, from: expected, count, delta });
        target.count += count;
        target.expected += count;
        return old[expected + count - 1]!.end + delta;
      }
    }
    this.openStart = i;
    this.openIndex = target.count++;
    return i;
  }

  // The element being scanned ends before `at`: it may still repeat one the last frame had elsewhere.
  private closeElement(at: number): void {
    const start = this.openStart;
    if (start < 0) return;
    this.openStart = -1;
    const end = trimEnd(this.bytes, at);
    const target = this.target!;
    // Most likely it replaces the element the last frame had at its place.
    target.expected++;
    if (end - start < MIN_ELEMENT_BYTES) return;
    const text = this.bytes.toString('utf8', start, end);
    const known = this.last.byText.get(text);
    if (known === undefined || known.end - known.start !== end - start || this.bytes.compare(this.last.bytes, known.start, known.end, start, end) !== 0) {
      target.news.push({ index: this.openIndex, start, end, text });
      return;
    }
    const slot: Slot = { entry: known, start: known.start, end: known.end, runEnd: 0 };
    target.runs.push({ index: this.openIndex, old: [slot], from: 0, count: 1, delta: start - known.start });
    if (known.arrayKey === target.key) target.expected = known.position + 1;
  }

  private closeTarget(at: number): void {
    this.closeElement(at);
    this.target = null;
    this.targetDepth = -1;
    this.awaitsElement = false;
  }

  private separate(at: number): void {
    const depth = this.depth;
    if (depth === this.targetDepth) {
      this.closeElement(at);
      this.awaitsElement = true;
    } else if (depth < this.nodeAt.length && this.nodeAt[depth] !== null) {
      if (this.isObjectAt[depth]) this.expectsKeyAt[depth] = true;
      else this.indexAt[depth]!++;
    }
  }

  // The place in the path tree of a container opening now, null when it is on no path (or deeper than any).
  private nodeFor(isObject: boolean): PathNode | null {
    const parent = this.depth;
    if (parent + 1 >= this.nodeAt.length) return null;
    const parentNode = parent === 0 ? null : this.nodeAt[parent]!;
    let node: PathNode | null = null;
    if (parent === 0) node = this.root;
    else if (parentNode !== null && !parentNode.isTarget) {
      node = this.isObjectAt[parent] ? (parentNode.keys.get(this.keyAt[parent] ?? '') ?? null) : parentNode.each;
    }
    // On the path only as the kind the path goes through: an object for keys, an array for EACH or elements.
    if (node !== null && (isObject ? node.keys.size === 0 : node.each === null && !node.isTarget)) node = null;
    return node;
  }

  private enter(isObject: boolean, node: PathNode): void {
    const depth = ++this.depth;
    this.nodeAt[depth] = node;
    this.isObjectAt[depth] = isObject;
    this.keyAt[depth] = null;
    this.expectsKeyAt[depth] = isObject;
    this.seenAt[depth]!.length = 0;
    this.indexAt[depth] = 0;
    if (node.isTarget) this.openTarget(depth);
  }

  private openTarget(depth: number): void {
    const path: (string | number)[] = [];
    for (let d = 1; d < depth; d++) path.push(this.isObjectAt[d] ? this.keyAt[d]! : this.indexAt[d]!);
    const key = JSON.stringify(path);
    this.target = { key, path, runs: [], news: [], count: 0, old: this.last.arrays.get(key), expected: 0 };
    this.found.push(this.target);
    this.targetDepth = depth;
    this.awaitsElement = true;
  }

  // A string from `start` to the quote at `end`; false when it is a key on the way that the scanner cannot vouch for.
  private readString(start: number, end: number): boolean {
    const depth = this.depth;
    if (depth >= this.nodeAt.length || this.nodeAt[depth] === null || !this.isObjectAt[depth] || !this.expectsKeyAt[depth]) return true;
    // Compared as bytes, so an escaped key could hide a name.
    for (let i = start + 1; i < end; i++) if (this.bytes[i] === BACKSLASH) return false;
    const key = this.bytes.toString('latin1', start + 1, end);
    this.keyAt[depth] = key;
    this.expectsKeyAt[depth] = false;
    if (!this.nodeAt[depth]!.keys.has(key)) return true;
    // JSON.parse keeps the last of a key twice; the scanner would have followed the first.
    if (this.seenAt[depth]!.includes(key)) return false;
    this.seenAt[depth]!.push(key);
    return true;
  }
}

/**
 * How many places of `old` from `p` on the bytes at i repeat, separators
 * included: the first place, then doubling steps while they match, then a
 * halving search in the step that did not. Each compare starts where the
 * last match ended, so a run costs about its own length in compares.
 */
function matchRun(bytes: Buffer, i: number, lastBytes: Buffer, old: readonly (Slot | null)[], p: number): number {
  const base = old[p]!.start;
  const isEqual = (from: number, to: number) => {
    const at = i + from - base;
    const end = at + to - from;
    return end <= bytes.length && bytes.compare(lastBytes, from, to, at, end) === 0;
  };
  if (!isEqual(base, old[p]!.end)) return 0;
  const limit = old[p]!.runEnd;
  let matched = p;
  for (let step = 1; matched < limit; step *= 2) {
    const q = Math.min(limit, matched + step);
    if (isEqual(old[matched]!.end, old[q]!.end)) {
      matched = q;
      continue;
    }
    let miss = q;
    while (miss - matched > 1) {
      const middle = (matched + miss) >> 1;
      if (isEqual(old[matched]!.end, old[middle]!.end)) matched = middle;
      else miss = middle;
    }
    break;
  }
  return matched - p + 1;
}

// The index after the object or array that opens at `start`, or -1 when the frame ends first.
function skipContainer(bytes: Buffer, start: number): number {
  let depth = 0;
  for (let i = start; i < bytes.length; i++) {
    const byte = bytes[i];
    if (byte === QUOTE) {
      i = closingQuote(bytes, i);
      if (i < 0) return -1;
    } else if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) depth++;
    else if ((byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) && --depth === 0) return i + 1;
  }
  return -1;
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
