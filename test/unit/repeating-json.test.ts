import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REPEATED_ARRAYS } from '../../src/transport/management-client.js';
import { RepeatingJsonParser } from '../../src/transport/repeating-json.js';

/**
 * RepeatingJsonParser must answer exactly what JSON.parse answers, for any
 * sequence of frames: the same value, or a SyntaxError for text that is not
 * JSON. Lists a frame repeats byte for byte come back as the very objects of
 * the frame before, which is what makes it worth having.
 */
const parserFor = () => new RepeatingJsonParser([['spec', 'aclLists']]);
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
const damage = fc.tuple(fc.nat(), fc.constantFrom('', '"', '\\', ']', '}', ',', '{"spec":{"aclLists":[', '0', '\u00e9', 'x', 'e5', '.0')).map(
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
    // A repeated list stands for one value in the text JSON.parse reads: `0e5` or `0.0` would be a number and valid.
    ['the list followed by an exponent', (l: string) => `{"spec":{"aclLists":[${l}e5]}}`],
    ['the list followed by a fraction', (l: string) => `{"spec":{"aclLists":[${l}.0]}}`],
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
    const parser = new RepeatingJsonParser([['spec', 'aclLists']]);
    const lists = Array.from({ length: 200 }, (_, i) => `{"items":[{"number":1,"action":"allow","protocol":"tcp","note":"${'x'.repeat(300)}"}],"id":"acl-${i}"}`);
    const first = parser.parse(Buffer.from(frameOf(lists))).value;
    const again = parser.parse(Buffer.from(frameOf(lists))).value;
    expect(again).toEqual(JSON.parse(frameOf(lists)));
    expect(reusedIn(first, again)).toBe(200);
  });

  it('reuses lists alike but for their middles, all of them, one compare run each', () => {
    // 1,000 lists of 4 KB with the same first and last bytes: no candidate search, so none is parsed again.
    const parser = new RepeatingJsonParser([['spec', 'aclLists']]);
    const lists = Array.from({ length: 1000 }, (_, i) => `{"a":"${'x'.repeat(2000)}","n":${1000 + i},"b":"${'y'.repeat(2000)}"}`);
    const first = parser.parse(Buffer.from(frameOf(lists))).value;
    const again = parser.parse(Buffer.from(frameOf(lists))).value;
    expect(again).toEqual(JSON.parse(frameOf(lists)));
    expect(reusedIn(first, again)).toBe(1000);
  });
});

describe('RepeatingJsonParser with the routed prefixes of every guest network', () => {
  const parserForRouted = () => new RepeatingJsonParser(REPEATED_ARRAYS);
  const entry = (i: number, nextHop = '2001:db8:200:1::a') => ({ prefix: `2001:db8:${(0x4000 + i).toString(16)}::/56`, nextHop });
  const spec = (networks: unknown[][]) => ({ schemaVersion: 2, guestNetworks: networks.map((routedPrefixes, i) => ({ id: `tier-${i}`, ra: { mtu: 1500 }, routedPrefixes })) });
  const frame = (networks: unknown[][], generation = 1) => Buffer.from(JSON.stringify({ type: 'desired', generation, spec: spec(networks) }));
  const entriesOf = (value: unknown) => (value as { spec: { guestNetworks: { routedPrefixes: object[] }[] } }).spec.guestNetworks.map((n) => n.routedPrefixes);

  it('hands the entries a push repeats over as the objects parsed before, and parses a changed one', () => {
    const parser = parserForRouted();
    const before = [Array.from({ length: 1000 }, (_, i) => entry(i)), [entry(2000, 'fe80::1')]];
    const after = [before[0]!.map((e, i) => (i === 500 ? entry(i, '2001:db8:200:1::b') : e)), before[1]!];
    const first = entriesOf(parser.parse(frame(before)).value);
    const parsed = parser.parse(frame(after, 2));
    const second = entriesOf(parsed.value);
    expect(parsed.value).toEqual(JSON.parse(frame(after, 2).toString()));
    expect(second[0]!.filter((e, i) => e === first[0]![i]).length).toBe(999);
    expect(second[0]![500]).not.toBe(first[0]![500]);
    expect(second[1]![0]).toBe(first[1]![0]);
    // Each entry comes with its text, for the schema to key it by instead of printing it.
    expect(second.flat().map((e) => parsed.sourceOf(e))).toEqual(after.flat().map((e) => JSON.stringify(e)));
  });

  it.each([
    ['an entry inserted at the front', (l: object[]) => [entry(5000), ...l]],
    ['three entries deleted in the middle', (l: object[]) => [...l.slice(0, 100), ...l.slice(103)]],
    ['the entries reversed', (l: object[]) => [...l].reverse()],
    ['the entries moved to another network', (l: object[]) => l],
  ])('finds repeated entries again after %s, with the value JSON.parse gives', (name, change) => {
    const parser = parserForRouted();
    const list = Array.from({ length: 300 }, (_, i) => entry(i));
    const first = entriesOf(parser.parse(frame([list, []])).value)[0]!;
    const networks = name.includes('another network') ? [[], list] : [change(list), []];
    const text = frame(networks, 2);
    const value = parser.parse(text).value;
    expect(value).toEqual(JSON.parse(text.toString()));
    const reused = entriesOf(value).flat().filter((e) => first.includes(e)).length;
    expect(reused).toBe(networks.flat().filter((e) => list.includes(e as never)).length);
  });

  it.each([
    ['a second guestNetworks key, which JSON.parse keeps', '"guestNetworks":[{"routedPrefixes":[ENTRY]}],"guestNetworks":[{"routedPrefixes":[null]}]'],
    ['an escaped routedPrefixes key after the real one, which JSON.parse keeps', '"guestNetworks":[{"routedPrefixes":[ENTRY],"routedPrefixe\\u0073":[null]}]'],
  ])('answers as JSON.parse for %s', (_, body) => {
    const parser = parserForRouted();
    const text = JSON.stringify(entry(7));
    parser.parse(Buffer.from(`{"spec":{"guestNetworks":[{"routedPrefixes":[${text}]}]}}`));
    const second = Buffer.from(`{"spec":{${body.replace('ENTRY', text)}}}`);
    expect(parser.parse(second).value).toEqual(JSON.parse(second.toString()));
  });

  it('parses whole, as JSON.parse, a frame of more arrays than any valid state, and remembers none of them', () => {
    const parser = parserForRouted();
    const networks = `[${JSON.stringify({ routedPrefixes: [entry(1)] })},${Array.from({ length: 5000 }, () => '{"routedPrefixes":[]}').join(',')}]`;
    const text = Buffer.from(`{"spec":{"guestNetworks":${networks}}}`);
    expect(parser.parse(text).value).toEqual(JSON.parse(text.toString()));
    const again = parser.parse(text);
    expect(again.value).toEqual(JSON.parse(text.toString()));
    // Nothing was remembered: the entry of the first network has no text of the frame's.
    expect(again.sourceOf(entriesOf(again.value)[0]![0]!)).toBeUndefined();
  });

  it('keeps what it remembers across a frame without the arrays (a reconcile message)', () => {
    const parser = parserForRouted();
    const list = Array.from({ length: 50 }, (_, i) => entry(i));
    const first = entriesOf(parser.parse(frame([list])).value)[0]!;
    parser.parse(Buffer.from('{"type":"reconcile"}'));
    const again = entriesOf(parser.parse(frame([list], 2)).value)[0]!;
    expect(again.filter((e, i) => e === first[i]).length).toBe(50);
  });

  it('answers what JSON.parse answers for every frame of a sequence of routed prefixes, damaged or not', () => {
    const routed = fc.oneof(
      fc.record({ prefix: fc.constantFrom('2001:db8:4000::/56', '2001:db8:4001::/56', '2001:db8:4002::/48'), nextHop: fc.constantFrom('2001:db8:200:1::a', 'fe80::1') }),
      fc.record({ prefix: fc.constant('2001:db8:4003::/56'), nextHop: fc.string({ maxLength: 40 }), description: fc.string() }),
      fc.jsonValue({ maxDepth: 2 }),
    );
    const networks = fc.array(fc.array(routed, { maxLength: 6 }), { maxLength: 3 });
    const spaced = (value: unknown, space: string) => JSON.stringify(value, null, space === '' ? undefined : space);
    fc.assert(
      fc.property(fc.array(fc.tuple(networks, fc.constantFrom('', ' ', '\t'), fc.option(damage, { nil: undefined })), { minLength: 1, maxLength: 6 }), (frames) => {
        const parser = parserForRouted();
        let earlier: string | null = null;
        for (const [nets, space, harm] of frames) {
          const text = spaced({ type: 'desired', spec: spec(nets) }, space);
          for (const candidate of [text, earlier ?? text, harm ? harm(text) : text, harm && earlier ? harm(earlier) : text]) {
            expect(outcome(() => parseCheckedAt(parser, candidate))).toEqual(outcome(() => JSON.parse(candidate)));
          }
          earlier = text;
        }
      }),
      { numRuns: 300 },
    );
  });
});

// The parser's value, once every text it gives for a routed-prefix entry or an ACL list has been checked to be that element's JSON.
function parseCheckedAt(parser: RepeatingJsonParser, text: string): unknown {
  const { value, sourceOf } = parser.parse(bytes(text));
  const spec = (value as { spec?: { guestNetworks?: unknown; aclLists?: unknown } } | null)?.spec;
  const networks = Array.isArray(spec?.guestNetworks) ? (spec.guestNetworks as unknown[]) : [];
  const elements = networks.flatMap((network) => {
    const routed = (network as { routedPrefixes?: unknown } | null)?.routedPrefixes;
    return Array.isArray(routed) ? routed : [];
  });
  for (const element of [...elements, ...(Array.isArray(spec?.aclLists) ? spec.aclLists : [])]) {
    const source = typeof element === 'object' && element !== null ? sourceOf(element) : undefined;
    if (source !== undefined) expect(JSON.parse(source)).toEqual(element);
  }
  return value;
}
