/**
 * keepalived's notify FIFO (keepalived.conf(5), vrrp_notify_fifo): one line
 * per transition, `INSTANCE "eth2" MASTER 200` or `GROUP "vr6" FAULT`.
 */

/** One line of the FIFO. */
export interface VrrpNotifyLine {
  readonly kind: 'instance' | 'group';
  readonly name: string;
  readonly state: 'primary' | 'backup' | 'fault' | 'stopped';
}

const STATES: Record<string, VrrpNotifyLine['state']> = { MASTER: 'primary', BACKUP: 'backup', FAULT: 'fault', STOP: 'stopped' };

/** Parses a line; null for anything else (keepalived's virtual-server lines, a torn line). */
export function parseVrrpNotifyLine(line: string): VrrpNotifyLine | null {
  const match = /^(INSTANCE|GROUP) "([^"]+)" (MASTER|BACKUP|FAULT|STOP)\b/.exec(line.trim());
  if (match === null) return null;
  return { kind: match[1] === 'GROUP' ? 'group' : 'instance', name: match[2]!, state: STATES[match[3]!]! };
}
