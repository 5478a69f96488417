// Bundles the benchmarks (firewall, BGP, failover, CloudStack import, routed prefixes) for Node 18 into dist/bench/, as build.mjs
// does for the product's entry points (run from the repository root). The
// agent-memory child is built twice: as the product ships (inline source map)
// and without the map, to show what the map costs in resident memory.
import { build } from 'esbuild';

const common = { bundle: true, platform: 'node', target: 'node18', format: 'cjs', legalComments: 'none', logLevel: 'warning' };

await Promise.all([
  build({ ...common, entryPoints: ['bench/firewall.bench.ts'], outfile: 'dist/bench/firewall-bench.cjs', sourcemap: 'inline' }),
  build({ ...common, entryPoints: ['bench/agent-path.ts'], outfile: 'dist/bench/agent-path.cjs', sourcemap: 'inline' }),
  build({ ...common, entryPoints: ['bench/bgp.bench.ts'], outfile: 'dist/bench/bgp-bench.cjs', sourcemap: 'inline' }),
  build({ ...common, entryPoints: ['bench/failover.bench.ts'], outfile: 'dist/bench/failover-bench.cjs', sourcemap: 'inline' }),
  build({ ...common, entryPoints: ['bench/cloudstack-import.ts'], outfile: 'dist/bench/cloudstack-import.cjs', sourcemap: 'inline' }),
  build({ ...common, entryPoints: ['bench/routed.bench.ts'], outfile: 'dist/bench/routed-bench.cjs', sourcemap: 'inline' }),
  build({ ...common, entryPoints: ['bench/routed-parse.ts'], outfile: 'dist/bench/routed-parse.cjs', sourcemap: false }),
  build({ ...common, entryPoints: ['bench/agent-memory-child.ts'], outfile: 'dist/bench/agent-memory-child.cjs', sourcemap: false }),
  build({ ...common, entryPoints: ['bench/agent-memory-child.ts'], outfile: 'dist/bench/agent-memory-child-sourcemap.cjs', sourcemap: 'inline' }),
]);
