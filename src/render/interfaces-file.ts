import type { DesiredState } from '../schema/desired-state.js';
import { GENERATED_HEADER } from '../model/ownership.js';

/**
 * The ifupdown stanza for the public interface, so that a boot without the
 * agent brings IPv6 up the same way (interfaces(5): inet6 auto, privext,
 * accept_ra).
 */
export function renderInterfacesFile(state: DesiredState): string {
  const pub = state.public;
  const lines = [GENERATED_HEADER];
  if (pub.mode === 'slaac') {
    lines.push(`iface ${pub.interface} inet6 auto`, '    accept_ra 2', '    privext 0');
  } else {
    const { address, gateway } = pub;
    lines.push(`iface ${pub.interface} inet6 static`, `    address ${address?.address}/${address?.length}`, `    gateway ${gateway}`, '    accept_ra 0', '    autoconf 0');
  }
  return `${lines.join('\n')}\n`;
}
