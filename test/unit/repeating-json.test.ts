import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RepeatingJsonParser } from '../../src/transport/repeating-json.js';

/**
 * RepeatingJsonParser must answer exactly what JSON.parse answers, for any
 * sequence of frames: the same value, or a SyntaxError for text that is not
 * JSON. Lists a frame repeats byte for byte come back as the very objects of
 * the frame before, which is what makes it worth having.
 */
const parserFor = () => new RepeatingJsonParser(['spec', 'aclLists']);
const bytes = (text: string) => Buffer.from(text, 'utf8');

// The parser's value, once every text it gives for an element of the array has been checked to be that element's JSON.
function parseChecked(parser: RepeatingJsonParser, text: string): unknown {
  const { value, sourceOf } = parser.parse(bytes(text));
  const lists = (value as { spec?: { aclLists?: unknown } } | null)?.spec?.aclLists;
  for (const list of Array.isArray(lists) ? lists : []) {
    const source = typeof list === 'object' && list !== null ? sourceOf(list) : undefined;
    if (source !== undefined) expect(JSON.parse(source)).toEqual(list);
  }
  return value;
}

function outcome(parse: () => unknown): { value: unknown } | { error: string } {
  try {
    return { value: parse() };
  } catch (error) {
    return { error: (error as Error).name };
  }
}

// A list big enough to be remembered (64 bytes or more), as the agent's are.
const list = fc.record({ id: fc.string(), items: fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 5 }), note: fc.string({ minLength: 64, maxLength: 80 }) });
const spacing = fc.constantFrom('', ' ', '\n  ', '\t');
const frameText = fc
  .tuple(fc.array(list, { maxLength: 4 }), spacing, fc.jsonValue({ maxDepth: 2 }), fc.boolean())
  .map(([lists, space, extra, isFirst]) => {
    const listsText = `[${space}${lists.map((l) => JSON.stringify(l, null, space === '' ? undefined : 1)).join(`,${space}`)}${space}]`;
    const spec = `{"router":${JSON.stringify(extra)},${space}"aclLists":${space}${listsText}}`;
    return isFirst ? `{"spec":${spec},"type":"desired"}` : `{"type":"desired",${space}"generation":3,"spec":${space}${spec}${space}}`;
  });

// Breaks a frame the way a hostile or broken sender might.
const damage = fc.tuple(fc.nat(), fc.constantFrom('', '"', '\\', ']', '}', ',', '{"spec":{"aclLists":[', '0', '\u00e9', 'x')).map(
  ([at, insert]) =>
    (text: string) => {
      const position = at % (text.length + 1);
      return `${text.slice(0, position)}${insert}${text.slice(position + (insert === '' ? 1 : 0))}`;
    },
);

describe('RepeatingJsonParser', () => {
  it('answers what JSON.parse answers for every frame of a sequence, damaged or not', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(frameText, fc.option(damage, { nil: undefined })), { minLength: 1, maxLength: 6 }), (frames) => {
        const parser = parserFor();
        const seen: string[] = [];
        for (const [text, harm] of frames) {
          // Repeat the lists of an earlier frame as they were, or damaged.
          const earlier = seen.length > 0 ? seen[seen.length - 1]! : text;
          for (const candidate of [text, earlier, harm ? harm(text) : text, harm ? harm(earlier) : earlier]) {
            expect(outcome(() => parseChecked(parser, candidate))).toEqual(outcome(() => JSON.parse(candidate)));
          }
          seen.push(text);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('hands a list repeated byte for byte over as the object parsed before, and parses a changed one', () => {
    const parser = parserFor();
    const lists = [0, 1, 2].map((n) => ({ id: `acl-${n}`, items: [{ number: 1, action: 'allow', note: 'x'.repeat(80) }] }));
    const frame = (l: unknown[]) => bytes(JSON.stringify({ type: 'desired', generation: 1, spec: { aclLists: l } }));
    const first = parser.parse(frame(lists)).value as { spec: { aclLists: object[] } };
    const changed = [lists[0], { ...lists[1]!, id: 'acl-1b' }, lists[2]];
    const parsed = parser.parse(frame(changed));
    const second = parsed.value as { spec: { aclLists: object[] } };
    expect(second).toEqual(JSON.parse(frame(changed).toString()));
    expect(second.spec.aclLists[0]).toBe(first.spec.aclLists[0]);
    expect(second.spec.aclLists[1]).not.toBe(first.spec.aclLists[1]);
    expect(second.spec.aclLists[2]).toBe(first.spec.aclLists[2]);
    // Each list comes with its text, repeated or not, for the schema to key it by.
    expect(second.spec.aclLists.map((list) => parsed.sourceOf(list))).toEqual(changed.map((list) => JSON.stringify(list)));
    expect(parsed.sourceOf(first.spec.aclLists[1]!)).toBeUndefined();
  });

  it.each([
    ['an escaped key on the way', (l: string) => `{"\\u0073pec":{"aclLists":[${l}]}}`],
    ['spec twice', (l: string) => `{"spec":{"aclLists":[${l}]},"spec":{"aclLists":[0]}}`],
    ['aclLists twice', (l: string) => `{"spec":{"aclLists":[${l}],"aclLists":[0]}}`],
    ['a list inside a string', (l: string) => `{"spec":{"aclLists":["${l.replace(/"/g, '\\"')}"]}}`],
    ['the list twice in one frame', (l: string) => `{"spec":{"aclLists":[${l},${l}]}}`],
    ['the list followed by garbage', (l: string) => `{"spec":{"aclLists":[${l} 1]}}`],
    ['the list where an object key goes', (l: string) => `{"spec":{"aclLists":{${l}:1}}}`],
    ['an array at the root', (l: string) => `[{"spec":{"aclLists":[${l}]}}]`],
  ])('treats %s as JSON.parse does', (_name, make) => {
    const listText = JSON.stringify({ id: 'acl-1', items: [], note: 'n'.repeat(80) });
    const parser = parserFor();
    parser.parse(bytes(`{"spec":{"aclLists":[${listText}]}}`));
    const text = make(listText);
    expect(outcome(() => parseChecked(parser, text))).toEqual(outcome(() => JSON.parse(text)));
  });

  it('scans 100,000 levels deep without recursion, as JSON.parse parses them', () => {
    const parser = parserFor();
    const kind = (parse: () => unknown) => {
      const result = outcome(parse);
      return 'error' in result ? result.error : Array.isArray(result.value) ? 'array' : typeof result.value;
    };
    for (const deep of [`${'['.repeat(100_000)}${']'.repeat(100_000)}`, `{"spec":{"aclLists":[${'['.repeat(100_000)}${']'.repeat(100_000)}]}}`]) {
      expect(kind(() => parser.parse(bytes(deep)).value)).toBe(kind(() => JSON.parse(deep)));
    }
  });
});

describe('RepeatingJsonParser under a hostile sender', () => {
  const frameOf = (lists: string[]) => `{"spec":{"aclLists":[${lists.join(',')}]}}`;
  const reusedIn = (first: unknown, again: unknown) => {
    const [a, b] = [first, again].map((v) => (v as { spec: { aclLists: unknown[] } }).spec.aclLists);
    return b!.filter((list, index) => list === a![index]).length;
  };

  it('reuses every repeated list even when all start alike (their first items)', () => {
    const parser = new RepeatingJsonParser(['spec', 'aclLists']);
    const lists = Array.from({ length: 200 }, (_, i) => `{"items":[{"number":1,"action":"allow","protocol":"tcp","note":"${'x'.repeat(300)}"}],"id":"acl-${i}"}`);
    const first = parser.parse(Buffer.from(frameOf(lists))).value;
    const again = parser.parse(Buffer.from(frameOf(lists))).value;
    expect(again).toEqual(JSON.parse(frameOf(lists)));
    expect(reusedIn(first, again)).toBe(200);
  });

  it('bounds the bytes one frame compares: lists alike but for their middles are parsed again past the budget', () => {
    // 1,000 lists of 4 KB with the same first and last bytes: comparing each with all would be 4 GB.
    const parser = new RepeatingJsonParser(['spec', 'aclLists']);
    const lists = Array.from({ length: 1000 }, (_, i) => `{"a":"${'x'.repeat(2000)}","n":${1000 + i},"b":"${'y'.repeat(2000)}"}`);
    const first = parser.parse(Buffer.from(frameOf(lists))).value;
    const again = parser.parse(Buffer.from(frameOf(lists))).value;
    expect(again).toEqual(JSON.parse(frameOf(lists)));
    const reused = reusedIn(first, again);
    expect(reused).toBeGreaterThan(0);
    expect(reused).toBeLessThan(1000);
  });
});
