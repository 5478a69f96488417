import type { z } from 'zod';

/** One reason an input was refused: where (a JSON path such as $.guestNetworks[0].prefix) and why. */
export interface FieldError {
  readonly path: string;
  readonly message: string;
}

/**
 * T with every property and array readonly, all the way down: the type of
 * what the schemas hand out (schema/desired-state.ts, DesiredState, says why).
 */
export type DeepReadonly<T> = T extends readonly (infer E)[]
  ? readonly DeepReadonly<E>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** The outcome of parsing untrusted input: the value, or every error with its path. */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly errors: FieldError[] };

/** Formats a zod path as a JSONPath: ["a", 0, "b"] becomes $.a[0].b. */
export function formatJsonPath(path: readonly PropertyKey[], root = '$'): string {
  return path.reduce<string>((text, key) => {
    if (typeof key === 'number') return `${text}[${key}]`;
    const name = String(key);
    return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? `${text}.${name}` : `${text}[${JSON.stringify(name)}]`;
  }, root);
}

/** Parses input with a schema, turning zod's issues into FieldErrors rooted at `root`. Never throws on bad input. */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, root = '$'): Parsed<z.output<S>> {
  const result = schema.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  return {
    ok: false,
    errors: result.error.issues.map((issue) => ({ path: formatJsonPath(issue.path, root), message: issue.message })),
  };
}
