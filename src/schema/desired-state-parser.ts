import { z } from 'zod';
import { DesiredState, desiredStateSchema } from './desired-state.js';
import { AclList } from './firewall.js';
import { RoutedPrefix } from './routed-prefixes.js';
import { parseWith, type Parsed } from './validation.js';

/**
 * The JSON text a value was parsed from, as the frame parser that made it
 * knows it: undefined, or a text whose JSON.parse is deep-equal to `value`
 * (transport/repeating-json.ts gives one for each ACL list and guest
 * network's routed-prefix entry of a frame, 32 bytes or longer).
 * parseDesiredState trusts it and keys the part by that text, so a text
 * that is not the value's own would get the answer for that text.
 */
export type JsonSourceOf = (value: object) => string | undefined;

/** How parseDesiredState is called besides its input. */
export interface DesiredStateParseOptions {
  /** The texts of the input's ACL lists and routed-prefix entries, from the frame parser that made them; without it each is printed. */
  readonly sourceOf?: JsonSourceOf;
}

/**
 * Parses desired states, validating only the parts that differ from those of
 * the last valid state parsed: its ACL lists, and the entries of its guest
 * networks' routedPrefixes. A push repeats the whole state, and validating
 * a large policy or a thousand routed prefixes with zod is a large part of
 * a push's cost (bench/README.md), so a push that changes one item or moves
 * one prefix would spend most of its time re-checking what it did not touch.
 *
 * A part's key is its JSON text: the frame's own (options.sourceOf) or, for
 * a plain JSON value without one, JSON.stringify's. A part whose key was
 * accepted before comes back as the very object of that parse, so
 * downstream a part's identity stands for its text (DesiredState's rule).
 *
 * The result is exactly `parseWith(DesiredState, input, root)`: an ACL list
 * and a routed-prefix entry are each checked on their own (AclList and
 * RoutedPrefix need nothing outside them; what spans the state is checked
 * by the state's refinement), and only when every part passes does the rest
 * of the state go through the same schema with the parts' outputs standing
 * in. Any refused part sends the whole input through DesiredState, so
 * errors, their paths and their order are the schema's own.
 */
export function parseDesiredState(input: unknown, root = '$', options: DesiredStateParseOptions = {}): Parsed<DesiredState> {
  const raw = readRawParts(input);
  if (raw === null) return parseWith(DesiredState, input, root);
  let isValid = false;
  try {
    const isAdmitted = raw.aclLists.every((list) => aclLists.admit(list, options.sourceOf)) && raw.routedPrefixes.every((entry) => routedPrefixes.admit(entry, options.sourceOf));
    if (!isAdmitted) return parseWith(DesiredState, input, root);
    const result = parseWith(PrevalidatedDesiredState, input, root);
    isValid = result.ok;
    return result;
  } finally {
    aclLists.end(isValid);
    routedPrefixes.end(isValid);
  }
}

/**
 * The outputs of one kind of part by JSON text: those of the last state parsed
 * successfully, handed out again as DesiredState's rule allows, and a stand-in
 * schema that gives each raw part of the parse running now its output.
 */
class AcceptedParts<T> {
  /** Bounded by one state: parts of earlier pushes are dropped. */
  private accepted = new Map<string, T>();
  private admitted = new Map<string, T>();
  /** Each raw part's output while one (synchronous) parse runs; a string part by its value, which is its text. */
  private readonly outputs = new Map<unknown, T>();
  readonly standIn: z.ZodType<T>;

  constructor(private readonly schema: z.ZodType<T>, what: string) {
    this.standIn = z.unknown().transform((part, ctx): T => {
      const output = this.outputs.get(part);
      if (output !== undefined) return output;
      ctx.addIssue({ code: 'custom', message: `was not validated as ${what}` });
      return z.NEVER;
    });
  }

  /** Finds or validates one raw part; false when the schema refuses it or its text cannot be known. */
  admit(part: unknown, sourceOf?: JsonSourceOf): boolean {
    // Only plain JSON values have a faithful key: a Date or an undefined would print like something else.
    const key = (typeof part === 'object' && part !== null ? sourceOf?.(part) : undefined) ?? (isPlainJson(part) ? JSON.stringify(part) : null);
    if (key === null) return false;
    let output = this.admitted.get(key) ?? this.accepted.get(key);
    if (output === undefined) {
      const parsed = this.schema.safeParse(part);
      if (!parsed.success) return false;
      output = parsed.data;
    }
    this.admitted.set(key, output);
    this.outputs.set(part, output);
    return true;
  }

  /** Ends a parse: when the state was valid, what it admitted is what the next parse finds. */
  end(isValid: boolean): void {
    if (isValid) this.accepted = this.admitted;
    this.admitted = new Map();
    this.outputs.clear();
  }
}

const aclLists = new AcceptedParts<AclList>(AclList, 'an ACL list');
const routedPrefixes = new AcceptedParts<RoutedPrefix>(RoutedPrefix, 'a routed prefix');

const PrevalidatedDesiredState = desiredStateSchema({ aclList: aclLists.standIn, routedPrefix: routedPrefixes.standIn });

/**
 * The raw entries of `aclLists` (all objects) and of every guest network's
 * `routedPrefixes`; absent counts as none. Null for any other shape, which
 * the whole schema then explains.
 */
function readRawParts(input: unknown): { aclLists: object[]; routedPrefixes: unknown[] } | null {
  if (!isObject(input)) return null;
  const { aclLists: lists = [], guestNetworks: networks = [] } = input as { aclLists?: unknown; guestNetworks?: unknown };
  if (!Array.isArray(lists) || !lists.every((list) => isObject(list) && !Array.isArray(list))) return null;
  if (!Array.isArray(networks)) return null;
  const entries: unknown[] = [];
  for (const network of networks) {
    if (!isObject(network)) return null;
    const routed = (network as { routedPrefixes?: unknown }).routedPrefixes;
    if (routed === undefined) continue;
    if (!Array.isArray(routed)) return null;
    for (const entry of routed) entries.push(entry);
  }
  return { aclLists: lists as object[], routedPrefixes: entries };
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}

/**
 * Deeper than any valid ACL list or routed-prefix entry: a part nested past it
 * is refused here, before the recursion (and JSON.stringify's) could run out
 * of stack, and the whole schema then explains it.
 */
const MAX_PART_DEPTH = 32;

/** Whether a value is what JSON.parse can return and JSON.stringify prints faithfully: its JSON text stands for it alone. */
export function isPlainJson(value: unknown, depth = 0): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value) && !Object.is(value, -0);
  if (depth >= MAX_PART_DEPTH) return false;
  if (Array.isArray(value)) {
    // An index loop, not every(): a hole prints as null.
    for (let i = 0; i < value.length; i++) if (!isPlainJson(value[i], depth + 1)) return false;
    return true;
  }
  if (typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) return false;
  for (const key in value) if (!isPlainJson((value as Record<string, unknown>)[key], depth + 1)) return false;
  return true;
}

