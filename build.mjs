// Bundles each entry point into one dependency-free file for Node 18, so the
// Debian package needs nothing but Debian's nodejs.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const { version } = JSON.parse(readFileSync('package.json', 'utf8'));

const entries = {
  'vr6-agent': 'src/daemon/main.ts',
  vr6ctl: 'src/cli/main.ts',
  'vr6-sim': 'src/sim/main.ts',
  lab: 'test/lab/main.ts',
};

await Promise.all(
  Object.entries(entries)
    .filter(([, entry]) => existsSync(entry))
    .map(([name, entry]) =>
    build({
      entryPoints: [entry],
      outfile: `dist/${name}.js`,
      bundle: true,
      platform: 'node',
      target: 'node18',
      format: 'cjs',
      sourcemap: 'inline',
      legalComments: 'none',
      banner: { js: '#!/usr/bin/env node' },
      define: { VR6_AGENT_VERSION: JSON.stringify(version) },
      logLevel: 'warning',
    }),
  ),
);

// The bundles are CommonJS; the repo's package.json says "module" for the sources.
mkdirSync('dist', { recursive: true });
writeFileSync('dist/package.json', '{ "type": "commonjs" }\n');

if (process.argv.includes('--json-schema')) {
  const { build: buildOnce } = await import('esbuild');
  await buildOnce({ entryPoints: ['src/schema/json-schema.ts'], outfile: 'dist/json-schema.js', bundle: true, platform: 'node', format: 'cjs', logLevel: 'warning' });
  const { createRequire } = await import('node:module');
  const { renderDesiredStateJsonSchema } = createRequire(import.meta.url)('./dist/json-schema.js');
  writeFileSync('schema/desired-state.schema.json', `${JSON.stringify(renderDesiredStateJsonSchema(), null, 2)}\n`);
}
