import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor, type Lab, type LabProcess } from './netns.js';

/** One RA as test/lab/ra-listener.py saw it arrive. */
export interface HeardRa {
  readonly atMs: number;
  readonly from: string;
  readonly routerLifetime: number;
  readonly prefixes: readonly { readonly prefix: string; readonly valid: number; readonly preferred: number }[];
  readonly mtu: number | null;
  /** The type of each option, in the order the RA carries them (RFC 4861 §4.6). */
  readonly options: readonly number[];
}

/** A passive RA capture on one interface of a namespace: it sends nothing, so it times RAs the sender chose to send. */
export interface RaListener {
  readonly process: LabProcess;
  heard(): HeardRa[];
  /** The first RA heard at or after `sinceMs` (epoch ms) that matches. */
  waitFor(predicate: (ra: HeardRa) => boolean, sinceMs: number, timeoutMs: number, what: string): Promise<HeardRa>;
}

export async function startRaListener(lab: Lab, ns: string, ifname: string): Promise<RaListener> {
  const logPath = join(lab.tempDir, `ra-${ns}-${ifname}-${Date.now()}.log`);
  const listener = await lab.spawn(ns, ['python3', fileURLToPath(new URL('./ra-listener.py', import.meta.url)), ifname], { logPath });
  const lines = () => (existsSync(logPath) ? readFileSync(logPath, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)) : []);
  await waitFor(async () => lines().some((l) => l.listening === true) || undefined, { timeoutMs: 5000, what: `the RA listener in ${ns} to start` });
  const heard = () => lines().filter((l): l is HeardRa => typeof l.atMs === 'number');
  return {
    process: listener,
    heard,
    waitFor: (predicate, sinceMs, timeoutMs, what) =>
      waitFor(async () => heard().find((ra) => ra.atMs >= sinceMs && predicate(ra)), { timeoutMs, what, intervalMs: 20 }),
  };
}
