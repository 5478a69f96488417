import type { DesiredState } from '../schema/desired-state.js';
import type { KeepalivedFiles } from '../model/file-layout.js';
import { GENERATED_HEADER } from '../model/ownership.js';

/** conntrackd's FTFW sync port, which the firewall admits from the peer (ruleset-redundancy.ts). */
export const CONNTRACKD_PORT = 3780;

/**
 * conntrackd.conf(5) for a pair with state sync, or null without. FTFW
 * (reliable, acknowledged) over the sync link, with the external cache off:
 * each VR writes what its peer sends straight into its own kernel table, so
 * the backup's conntrack already holds every flow when it takes over and no
 * commit has to run on the transition (docs/redundancy.md has the
 * measurements: without state sync a stream from upstream stalls on every
 * failover). The sync link's own traffic is not synced.
 */
export function renderConntrackdConf(state: DesiredState, files: KeepalivedFiles): string | null {
  const redundancy = state.redundancy;
  if (redundancy === undefined || !redundancy.stateSync) return null;
  const { peer } = redundancy;
  const local = peer.localAddress.address;
  return [
    GENERATED_HEADER,
    'Sync {',
    '    Mode FTFW {',
    '        DisableExternalCache On',
    '    }',
    '    UDP {',
    `        IPv6_address ${local}`,
    `        IPv6_Destination_Address ${peer.address}`,
    `        Port ${CONNTRACKD_PORT}`,
    `        Interface ${peer.interface}`,
    '        SndSocketBuffer 1249280',
    '        RcvSocketBuffer 1249280',
    '        Checksum on',
    '    }',
    '}',
    'General {',
    '    HashSize 8192',
    '    HashLimit 65536',
    '    Syslog on',
    `    LockFile ${files.conntrackdLock}`,
    '    UNIX {',
    `        Path ${files.conntrackdSocket}`,
    '    }',
    '    NetlinkBufferSize 2097152',
    '    NetlinkBufferSizeMaxGrowth 8388608',
    '    Filter From Userspace {',
    '        Protocol Accept {',
    '            TCP UDP',
    '        }',
    '        Address Ignore {',
    `            IPv6_address ${local}`,
    `            IPv6_address ${peer.address}`,
    '        }',
    '    }',
    '}',
    '',
  ].join('\n');
}
