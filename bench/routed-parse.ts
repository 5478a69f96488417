import { spawnSync } from 'node:child_process';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseServerFrame, REPEATED_ARRAYS } from '../src/transport/management-client.js';
import { RepeatingJsonParser } from '../src/transport/repeating-json.js';
import { parseDesiredState } from '../src/schema/desired-state-parser.js';
import { INSTANCE, routedState } from '../test/lab/routed-lab.js';
import { readShippedNodeFlags } from '../test/lab/shipped-node-flags.js';
import { median, spread } from './stats.js';

/**
 * `make bench-routed-parse`: the agent's part of one move among 1000 routed
 * prefixes before the reconcile, as a fresh agent process meets it. Each
 * child (the Node of node_modules, Node 18) takes pushes of the
 * routed-prefix bench's state (bench/routed.bench.ts) in one of two orders:
 * `first`, the lab /56 and 999 more via B, then the /56 moved back to A;
 * `lab`, the order of bench-routed (the /56 alone via A, via B, then with
 * 999 more, then moved back to A), whose last push is its move among 1000.
 * For each push it times what the agent does with the frame before it persists it:
 * the frame's JSON (parseServerFrame with the connection's parser) and the
 * schema (parseDesiredState with the frame's texts), and the GC pauses
 * inside them. Children run with no flags and with the package's flags
 * (debian/bin/vr6-agent), in turns. Prints figures, asserts none.
 */

const CHILDREN = Number(process.env.BENCH_ROUTED_PARSE_CHILDREN ?? 15);
const EXTRA_PREFIXES = 999;

interface PushTimes {
  readonly parseMs: number;
  readonly validateMs: number;
  readonly gcMs: number;
}

/** The next hops and extra prefixes of each push, by order. */
const ORDERS: Record<string, readonly (readonly [string, number])[]> = {
  first: [
    [INSTANCE.b.address, EXTRA_PREFIXES],
    [INSTANCE.a.address, EXTRA_PREFIXES],
  ],
  lab: [
    [INSTANCE.a.address, 0],
    [INSTANCE.b.address, 0],
    [INSTANCE.b.address, EXTRA_PREFIXES],
    [INSTANCE.a.address, EXTRA_PREFIXES],
  ],
};

function runChild(order: string): void {
  const gcPauses: { start: number; duration: number }[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcPauses.push({ start: entry.startTime, duration: entry.duration });
  });
  observer.observe({ entryTypes: ['gc'] });
  // The simulator's frames: JSON.stringify of the message, the spec as read from its file.
  const frames = ORDERS[order]!.map(([nextHop, extra], i) =>
    Buffer.from(JSON.stringify({ type: 'desired', generation: i + 1, spec: JSON.parse(JSON.stringify(routedState(nextHop, extra))) })),
  );
  const parser = new RepeatingJsonParser(REPEATED_ARRAYS);
  const spans: { parse: [number, number]; validate: [number, number] }[] = [];
  const kept: unknown[] = [];
  for (const frame of frames) {
    const parsing = performance.now();
    const message = parseServerFrame(frame, false, parser);
    const validating = performance.now();
    if (!message.ok || message.value.type !== 'desired') throw new Error(`frame refused: ${JSON.stringify(message)}`);
    const state = parseDesiredState(message.value.spec, '$.spec', { sourceOf: message.sourceOf });
    const done = performance.now();
    if (!state.ok) throw new Error(`state refused: ${JSON.stringify(state.errors.slice(0, 3))}`);
    // The agent holds the accepted state until the next one.
    kept.splice(0, kept.length, state.value);
    spans.push({ parse: [parsing, validating], validate: [validating, done] });
  }
  // GC entries are delivered asynchronously, in a later turn of the loop.
  setTimeout(() => {
    observer.disconnect();
    const inside = ([from, to]: [number, number]) =>
      gcPauses.filter((pause) => pause.start >= from && pause.start < to).reduce((sum, pause) => sum + pause.duration, 0);
    const pushes: PushTimes[] = spans.map(({ parse, validate }) => ({
      parseMs: parse[1] - parse[0],
      validateMs: validate[1] - validate[0],
      gcMs: inside([parse[0], validate[1]]),
    }));
    process.stdout.write(`${JSON.stringify({ pushes, frameBytes: frames.map((f) => f.length), kept: kept.length })}\n`);
  }, 100);
}

function format(values: readonly number[]): string {
  const { min, max } = spread(values);
  return `${median(values).toFixed(1)} (${min.toFixed(1)}-${max.toFixed(1)})`;
}

function runParent(): void {
  const shipped = readShippedNodeFlags();
  const variants = [
    { label: 'no flags', flags: [] as string[], order: 'first' },
    { label: shipped.join(' '), flags: shipped, order: 'first' },
    { label: `${shipped.join(' ')}, in bench-routed's order`, flags: shipped, order: 'lab' },
  ];
  const results = new Map<string, { pushes: PushTimes[]; frameBytes: number[] }[]>(variants.map((v) => [v.label, []]));
  for (let round = 0; round < CHILDREN; round++) {
    for (const variant of round % 2 === 0 ? variants : [...variants].reverse()) {
      const child = spawnSync(process.execPath, [...variant.flags, __filename, '--child', variant.order], { encoding: 'utf8' });
      if (child.status !== 0) throw new Error(`child failed (${child.status}): ${child.stderr}`);
      results.get(variant.label)!.push(JSON.parse(child.stdout) as { pushes: PushTimes[]; frameBytes: number[] });
    }
  }
  const sample = results.get(variants[0]!.label)![0]!;
  console.log(
    `routed parse: ${EXTRA_PREFIXES + 1} routed prefixes, frames of ${sample.frameBytes.map((b) => `${(b / 1024).toFixed(0)} KiB`).join(' and ')}, ` +
      `${CHILDREN} fresh processes per row, Node ${process.version}; ms, median (min-max)`,
  );
  for (const variant of variants) {
    const runs = results.get(variant.label)!;
    const pushes = variant.order === 'lab' ? ['the move among 1000 (fourth push)'] : ['first push', 'second push (one next hop changed)'];
    for (const [n, what] of pushes.entries()) {
      const index = variant.order === 'lab' ? 3 : n;
      const of = (key: keyof PushTimes) => runs.map((run) => run.pushes[index]![key]);
      const total = runs.map((run) => run.pushes[index]!.parseMs + run.pushes[index]!.validateMs);
      console.log(`  ${variant.label}, ${what}: parse ${format(of('parseMs'))}, validate ${format(of('validateMs'))}, both ${format(total)}, of which GC ${format(of('gcMs'))}`);
    }
  }
}

if (process.argv.includes('--child')) runChild(process.argv[process.argv.indexOf('--child') + 1]!);
else runParent();
