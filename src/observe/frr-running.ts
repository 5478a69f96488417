import { ZEBRA_DEFAULT_PREFIX_LIFETIMES } from '../model/frr-words.js';
import type { FrrRunningNd } from '../model/observed.js';

/**
 * Reads zebra's `show running-config` (FRR 8.4) for what the agent owns
 * there: the `ipv6 nd` lines of each interface. Everything else in the
 * config (hostname, phase-2 routing) is left to whoever owns it.
 */

/** zebra's running RA settings: interface → its `ipv6 nd` lines, normalised to the form frr.conf states them. */
export function parseFrrRunningConfig(text: string): FrrRunningNd {
  const interfaces = new Map<string, string[]>();
  let current: string[] | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    const header = /^interface (\S+)/.exec(line);
    if (header) {
      current = interfaces.get(header[1]!) ?? [];
      interfaces.set(header[1]!, current);
    } else if (line === 'exit' || /^\S/.test(line)) {
      current = null;
    } else if (current !== null && /^ (no )?ipv6 nd /.test(line)) {
      current.push(normaliseNdLine(line.trim()));
    }
  }
  return new Map([...interfaces].filter(([, lines]) => lines.length > 0));
}

function normaliseNdLine(line: string): string {
  const prefix = /^ipv6 nd prefix (\S+)$/.exec(line);
  if (prefix) return `${line} ${ZEBRA_DEFAULT_PREFIX_LIFETIMES}`;
  const msec = /^ipv6 nd ra-interval msec (\d+)$/.exec(line);
  if (msec && Number(msec[1]) % 1000 === 0) return `ipv6 nd ra-interval ${Number(msec[1]) / 1000}`;
  return line;
}
