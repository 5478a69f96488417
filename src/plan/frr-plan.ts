import { RA_ON, ZEBRA_DEFAULT_RA_INTERVAL_SECONDS } from '../model/frr-words.js';
import type { FrrRunningNd } from '../model/observed.js';

/**
 * The vtysh commands that take a running zebra's router-advertisement
 * settings to the rendered ones, as a diff, never a restart (a restart
 * withdraws the router from every guest and drops phase 2's BGP sessions).
 * Pure. Every command overwrites in place or removes one setting, so a
 * changed prefix lifetime never passes through FRR's 30-day default, as
 * frr-reload.py's delete-then-add does (docs/research/ra-backends.md).
 */
export interface FrrChange {
  /** The commands, as a file for `vtysh -f`; empty when nothing differs. */
  readonly commands: string;
  /** Interfaces whose settings the commands change. */
  readonly touchedInterfaces: readonly string[];
  /** Of those, the ones that advertise after the change: each deserves a prompt RA. */
  readonly changedInterfaces: readonly string[];
}

// What zebra does for a setting its running-config does not print.
const DEFAULTS: ReadonlyMap<string, string> = new Map([
  ['ipv6 nd ra-interval', `ipv6 nd ra-interval ${ZEBRA_DEFAULT_RA_INTERVAL_SECONDS}`],
  ['ipv6 nd suppress-ra', 'ipv6 nd suppress-ra'],
]);

/** The setting a line sets: one value each, except prefixes, RDNSS and DNSSL, which are keyed by their first argument. */
export function settingOf(line: string): string {
  const words = line.replace(/^no /, '').split(' ');
  const isKeyed = ['prefix', 'rdnss', 'dnssl'].includes(words[2] ?? '');
  return words.slice(0, isKeyed ? 4 : 3).join(' ');
}

/** The command that returns a setting to zebra's default. */
function resetCommand(line: string): string {
  return line.startsWith('no ') ? line.slice(3) : `no ${settingOf(line)}`;
}

/**
 * The commands from zebra's running RA settings to the desired ones, per
 * interface: an interface only in `running` has its settings reset, so it
 * stops advertising. Empty commands when the two agree, defaults included.
 */
export function planFrrChange(desired: FrrRunningNd, running: FrrRunningNd): FrrChange {
  const blocks: string[] = [];
  const touchedInterfaces: string[] = [];
  const changedInterfaces: string[] = [];
  for (const ifname of new Set([...desired.keys(), ...running.keys()])) {
    const want = desired.get(ifname) ?? [];
    const commands = interfaceCommands(want, running.get(ifname) ?? []);
    if (commands.length === 0) continue;
    blocks.push(`interface ${ifname}`, ...commands.map((c) => ` ${c}`), 'exit');
    touchedInterfaces.push(ifname);
    if (want.includes(RA_ON)) changedInterfaces.push(ifname);
  }
  return { commands: blocks.length === 0 ? '' : `${blocks.join('\n')}\n`, touchedInterfaces, changedInterfaces };
}

function interfaceCommands(want: readonly string[], have: readonly string[]): string[] {
  const haveBySetting = new Map(have.map((line) => [settingOf(line), line]));
  const wantBySetting = new Map(want.map((line) => [settingOf(line), line]));
  const current = (setting: string) => haveBySetting.get(setting) ?? DEFAULTS.get(setting);
  const sets = want.filter((line) => current(settingOf(line)) !== line);
  const resets = have.filter((line) => !wantBySetting.has(settingOf(line))).map(resetCommand);
  if (sets.length === 0 && resets.length === 0) return [];
  const isTiming = (line: string) => /^ipv6 nd ra-(interval|lifetime) /.test(line);
  // zebra refuses an interval above the configured router lifetime, 0 included, and a
  // lifetime below the interval: clear the lifetime, set the interval, then the lifetime.
  const timing = sets.some(isTiming) ? ['no ipv6 nd ra-lifetime', ...want.filter(isTiming)] : [];
  const others = sets.filter((line) => !isTiming(line) && line !== RA_ON);
  // Advertising starts last, so its first RA is complete; a link that stops advertising stops first.
  const raOn = sets.includes(RA_ON) ? [RA_ON] : [];
  const raOff: string[] = resets.filter((line) => line === 'ipv6 nd suppress-ra');
  return [...raOff, ...timing, ...others, ...resets.filter((line) => !raOff.includes(line)), ...raOn];
}
