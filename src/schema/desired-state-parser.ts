import { z } from 'zod';
import { DesiredState, desiredStateSchema } from './desired-state.js';
import { AclList } from './firewall.js';
import { parseWith, type Parsed } from './validation.js';

/**
 * The JSON text a value was parsed from, as the frame parser that made it
 * knows it: undefined, or a text whose JSON.parse is deep-equal to `value`
 * (transport/repeating-json.ts gives one for each long ACL list of a
 * frame). parseDesiredState trusts it and keys the list by that text, so a
 * text that is not the value's own would get the answer for that text.
 */
export type JsonSourceOf = (value: object) => string | undefined;

/** How parseDesiredState is called besides its input. */
export interface DesiredStateParseOptions {
  /** The texts of the input's ACL lists, from the frame parser that made them; without it each list is printed. */
  readonly sourceOf?: JsonSourceOf;
}

/**
 * Parses desired states, validating only the ACL lists that differ from those
 * of the last valid state parsed. A push repeats the whole state, and
 * validating a large policy with zod is a large part of a push's cost
 * (bench/README.md), so a push that changes one item would spend most of its
 * time re-checking the lists it did not touch.
 *
 * A list's key is its JSON text: the frame's own (options.sourceOf) or, for
 * a plain JSON value without one, JSON.stringify's. A list whose key was
 * accepted before comes back as the very AclList object of that parse, so
 * downstream a list's identity stands for its text (DesiredState's rule).
 *
 * The result is exactly `parseWith(DesiredState, input, root)`: an ACL list is
 * checked on its own (AclList needs nothing outside the list), and only when
 * every list passes does the rest of the state go through the same schema
 * with the lists' outputs standing in. Any refused list sends the whole input
 * through DesiredState, so errors, their paths and their order are the
 * schema's own.
 */
export function parseDesiredState(input: unknown, root = '$', options: DesiredStateParseOptions = {}): Parsed<DesiredState> {
  const rawLists = readRawLists(input);
  if (rawLists === null) return parseWith(DesiredState, input, root);
  const lists = new Map<string, AclList>();
  for (const raw of rawLists) {
    // Only plain JSON values have a faithful key: a Date or an undefined would print like something else.
    const key = options.sourceOf?.(raw) ?? (isPlainJson(raw) ? JSON.stringify(raw) : null);
    if (key === null) return parseWith(DesiredState, input, root);
    const known = lists.get(key) ?? acceptedLists.get(key);
    const parsed = known === undefined ? AclList.safeParse(raw) : { success: true as const, data: known };
    if (!parsed.success) return parseWith(DesiredState, input, root);
    lists.set(key, parsed.data);
    accepted.set(raw, parsed.data);
  }
  try {
    const result = parseWith(PrevalidatedDesiredState, input, root);
    // Bounded by one state: lists of earlier pushes are dropped.
    if (result.ok) acceptedLists = lists;
    return result;
  } finally {
    for (const raw of rawLists) accepted.delete(raw);
  }
}

/** Lists of the last state parsed successfully, by their JSON text; handed out again, as DesiredState's rule allows. */
let acceptedLists = new Map<string, AclList>();

/** Each raw list's output while one (synchronous) parse runs. */
const accepted = new WeakMap<object, AclList>();

const PrevalidatedAclList = z.unknown().transform((raw, ctx): AclList => {
  const list = typeof raw === 'object' && raw !== null ? accepted.get(raw) : undefined;
  if (list !== undefined) return list;
  ctx.addIssue({ code: 'custom', message: 'was not validated as an ACL list' });
  return z.NEVER;
});

const PrevalidatedDesiredState = desiredStateSchema(PrevalidatedAclList);

// The raw entries of `aclLists` when they are all objects (absent counts as none), else null.
function readRawLists(input: unknown): object[] | null {
  if (typeof input !== 'object' || input === null) return null;
  const lists = (input as { aclLists?: unknown }).aclLists;
  if (lists === undefined) return [];
  if (!Array.isArray(lists) || !lists.every((list) => typeof list === 'object' && list !== null && !Array.isArray(list))) return null;
  return lists as object[];
}

// What JSON.parse can return: its JSON text stands for it alone.
function isPlainJson(value: unknown): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value) && !Object.is(value, -0);
  if (Array.isArray(value)) {
    // An index loop, not every(): a hole prints as null.
    for (let i = 0; i < value.length; i++) if (!isPlainJson(value[i])) return false;
    return true;
  }
  if (typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) return false;
  for (const key in value) if (!isPlainJson((value as Record<string, unknown>)[key])) return false;
  return true;
}

