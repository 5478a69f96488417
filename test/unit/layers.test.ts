import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The floors of src/ (README, Architecture): each folder imports only the
 * folders below it, so no import runs back up and no folder cycle forms.
 * `apply` may take only the Step type from `plan`.
 */
const MAY_IMPORT: Record<string, readonly string[]> = {
  schema: [],
  cloudstack: ['schema', 'model'],
  model: ['schema'],
  host: ['model'],
  render: ['schema', 'model'],
  plan: ['schema', 'model', 'render'],
  observe: ['schema', 'model', 'host'],
  apply: ['schema', 'model', 'host', 'plan/steps.js'],
  reconcile: ['schema', 'model', 'host', 'render', 'plan', 'observe', 'apply'],
  transport: ['schema'],
  cli: ['schema', 'cloudstack'],
  sim: ['schema', 'transport'],
  daemon: ['schema', 'cloudstack', 'model', 'host', 'render', 'plan', 'observe', 'apply', 'reconcile', 'transport'],
};
/** The pure core: no Node API, no logger, no process. */
const PURE = ['schema', 'cloudstack', 'model', 'render', 'plan'];

function sourcesOf(folder: string): { path: string; text: string }[] {
  const dir = join('src', folder);
  return readdirSync(dir)
    .filter((name) => name.endsWith('.ts'))
    .map((name) => ({ path: join(dir, name), text: readFileSync(join(dir, name), 'utf8') }));
}

function importsOf(text: string): string[] {
  return [...text.matchAll(/^(?:import|export)[^'"]*?from '([^']+)'/gm)].map((match) => match[1]!);
}

describe('the floors of src/', () => {
  it('has a rule for every folder', () => {
    const folders = readdirSync('src', { withFileTypes: true }).filter((e) => e.isDirectory() && e.name !== 'native').map((e) => e.name);
    expect(folders.sort()).toEqual(Object.keys(MAY_IMPORT).sort());
  });

  it.each(Object.keys(MAY_IMPORT))('%s imports only the floors below it', (folder) => {
    const allowed = MAY_IMPORT[folder]!;
    const wrong = sourcesOf(folder).flatMap(({ path, text }) =>
      importsOf(text)
        .filter((target) => target.startsWith('../'))
        .map((target) => target.slice(3))
        .filter((target) => !allowed.some((rule) => target === rule || target.startsWith(`${rule}/`)))
        .map((target) => `${path} imports ${target}`),
    );
    expect(wrong).toEqual([]);
  });

  it.each(PURE)('%s, in the pure core, uses no Node API, logger or process', (folder) => {
    const wrong = sourcesOf(folder).flatMap(({ path, text }) => [
      ...importsOf(text).filter((target) => target.startsWith('node:') || target === 'pino').map((target) => `${path} imports ${target}`),
      ...(/\bprocess\./.test(text) ? [`${path} uses process`] : []),
    ]);
    expect(wrong).toEqual([]);
  });

  it('has no import cycle between files, inside a folder either', () => {
    const edges = new Map<string, string[]>();
    for (const folder of Object.keys(MAY_IMPORT)) {
      for (const { path, text } of sourcesOf(folder)) {
        edges.set(path, importsOf(text).filter((target) => target.startsWith('.')).map((target) => normalize(join(dirname(path), target.replace(/\.js$/, '.ts')))));
      }
    }
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, trail: string[]): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(file)), file].join(' -> '));
        return;
      }
      state.set(file, 'open');
      for (const next of edges.get(file) ?? []) visit(next, [...trail, file]);
      state.set(file, 'done');
    };
    for (const file of edges.keys()) visit(file, []);
    expect(cycles).toEqual([]);
  });
});
