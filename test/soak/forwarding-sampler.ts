import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab, LabProcess } from '../lab/netns.js';
import { NS } from '../lab/topology.js';

/**
 * The fail-open detector: a shell loop in the VR namespace that reads
 * net.ipv6.conf.all.forwarding, lists the forward chain of `ip6 vr6_agent`,
 * and reads forwarding again, as fast as it can for the whole campaign.
 *
 * The two reads cannot be one atomic look, so a sample is fail-open when
 * forwarding was on before AND after a listing that found no forward hook
 * (no table, no chain, or a chain that no longer hooks forward). Forwarding
 * would have to go off and on again inside one sample to make that a false
 * alarm, and the agent never switches it off; a real gap of any length
 * longer than one listing shows up.
 */
export interface ForwardingSampler {
  readonly proc: LabProcess;
  /** Stops the loop and returns its counts. */
  stop(): Promise<SamplerFigures>;
}

/** What the sampler counted. */
export interface SamplerFigures {
  readonly samples: number;
  /** Samples with forwarding on, and on the table's forward hook absent. */
  readonly failOpen: number;
  /** Samples in which forwarding was on throughout (the ones that could have failed open). */
  readonly forwardingOn: number;
  /** The first few fail-open samples, `<time> <forwarding before><hook><forwarding after>`. */
  readonly failOpenLines: string[];
}

// Bash reads /proc with `read` (no fork); only nft is a process per sample.
const SCRIPT = `
f=/proc/sys/net/ipv6/conf/all/forwarding
n=0; bad=0; on=0
report() { echo "samples=$n failopen=$bad on=$on"; exit 0; }
trap report TERM
while :; do
  read a < $f
  if nft list chain ip6 vr6_agent forward 2>/dev/null | grep -q 'hook forward'; then c=1; else c=0; fi
  read b < $f
  n=$((n+1))
  if [ "$a" = 1 ] && [ "$b" = 1 ]; then
    on=$((on+1))
    if [ $c = 0 ]; then bad=$((bad+1)); [ $bad -le 20 ] && echo "FAILOPEN $(date +%s.%N) $a$c$b"; fi
  fi
done
`;

/** Starts the sampler in the VR namespace of `lab`. */
export async function startForwardingSampler(lab: Lab): Promise<ForwardingSampler> {
  const scriptPath = join(lab.tempDir, 'forwarding-sampler.sh');
  writeFileSync(scriptPath, SCRIPT);
  const proc = await lab.spawn(NS.vr, ['bash', scriptPath]);
  return {
    proc,
    async stop() {
      process.kill(proc.pid, 'SIGTERM');
      await proc.exited;
      return parseSamplerLog(readFileSync(proc.logPath, 'utf8'));
    },
  };
}

/** Parses the sampler's output; throws when it printed no summary (it died). */
export function parseSamplerLog(text: string): SamplerFigures {
  const summary = /samples=(\d+) failopen=(\d+) on=(\d+)/.exec(text);
  if (summary === null) throw new Error(`the forwarding sampler printed no summary: ${text.slice(-500)}`);
  return {
    samples: Number(summary[1]),
    failOpen: Number(summary[2]),
    forwardingOn: Number(summary[3]),
    failOpenLines: text.split('\n').filter((line) => line.startsWith('FAILOPEN')),
  };
}
