import type { Logger } from 'pino';
import type { Host, WatchedCommand } from '../host/host.js';
import { fileLayoutOf } from '../model/file-layout.js';
import type { ObservedAddress } from '../model/observed.js';
import { parseVrrpNotifyLine, type VrrpNotifyLine } from '../observe/vrrp-notify.js';
import type { AgentConfig } from '../schema/agent-config.js';
import type { DesiredState } from '../schema/desired-state.js';
import type { RedundancyReport, VrrpTransition } from '../schema/protocol.js';
import { virtualLinkLocalOf, vmacInterfaceOf } from '../schema/redundancy.js';
import { HEARTBEAT_GRACE_SECONDS, isSyncGrouped } from '../render/keepalived-conf.js';
import { BgpPoll } from './bgp-sessions.js';
import { isHeartbeatLapsed } from './heartbeat.js';
import { readRadvdPid } from '../observe/read-host.js';

/** How many transitions the report keeps. */
const TRANSITIONS_KEPT = 20;
/** A FIFO reader that ended is started again this much later. */
const RESTART_DELAY_MS = 1000;
/** How often the peer and a second gateway are looked for. */
export const VRRP_PROBE_MS = 5000;

type Role = RedundancyReport['role'];

/**
 * This VR's part in its pair: the transitions keepalived writes to its
 * notify FIFO (each logged, so the journal has them, and kept for the
 * report), the peer's presence on the sync link, and split brain. The FIFO
 * reader also tells of keepalived's death: when the last keepalived
 * process holding the FIFO dies, the reader sees its end, and the agent
 * reconciles at once, withdrawing what the dead daemon left (plan/keepalived-plan.ts).
 */
export class VrrpRole {
  private watched: WatchedCommand | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private state: DesiredState | null = null;
  private readonly transitions: VrrpTransition[] = [];
  private lastGroupState: Role | null = null;
  private lastFaultInstance: string | null = null;
  private isPeerSeen = false;
  private isSplitBrain = false;
  /** Whether the last report found this VR holding the gateway. */
  private isHoldingGateway = false;
  private isClosed = false;
  /** Lines are handled one at a time, in the order keepalived wrote them: a cause may need a file read. */
  private lines: Promise<void> = Promise.resolve();
  private readonly poll: BgpPoll;

  constructor(
    private readonly host: Host,
    private readonly config: AgentConfig,
    private readonly log: Logger,
    /** The report may have changed. */
    private readonly onChange: () => void,
    /** keepalived may have died. */
    private readonly onDaemonGone: () => void,
  ) {
    this.poll = new BgpPoll(() => this.probe(), VRRP_PROBE_MS);
  }

  /** Follows the accepted state: watches and probes while it has a redundancy section. */
  update(state: DesiredState | null): void {
    this.state = state;
    const isOn = state?.redundancy !== undefined && !this.isClosed;
    this.poll.update(isOn);
    if (isOn && this.watched === null && this.restartTimer === null) this.startWatch();
    else if (!isOn) this.stopWatch();
  }

  /** Stops for good. */
  close(): void {
    this.isClosed = true;
    this.poll.close();
    this.stopWatch();
  }

  /** The redundancy report of `state` (null without a redundancy section), from the addresses just observed. */
  report(state: DesiredState, addresses: readonly ObservedAddress[]): RedundancyReport | null {
    const redundancy = state.redundancy;
    if (redundancy === undefined) return null;
    const network = state.guestNetworks[0];
    const [ifname, address] = network ? [vmacInterfaceOf(network.interface), virtualLinkLocalOf(redundancy, network.id)] : [vmacInterfaceOf(state.public.interface), redundancy.publicAddress.address];
    const holds = addresses.some((a) => a.interface === ifname && a.address === address);
    this.isHoldingGateway = holds;
    const role: Role = holds ? 'primary' : this.lastGroupState === 'fault' || this.lastGroupState === 'stopped' ? this.lastGroupState : 'backup';
    return { role, isPeerSeen: this.isPeerSeen || role === 'backup', isSplitBrain: holds && this.isSplitBrain, transitions: [...this.transitions] };
  }

  private startWatch(): void {
    const fifo = fileLayoutOf(this.config).keepalived.notifyFifo;
    // cat blocks until keepalived opens the FIFO, and reads its end when the last keepalived process holding it is gone.
    const onLine = (line: string) => {
      this.lines = this.lines.then(() => this.onLine(line)).catch((error: unknown) => this.log.error({ err: error }, 'a vrrp notify line failed'));
    };
    this.watched = this.host.watch(['cat', fifo], onLine, () => {
      this.watched = null;
      if (this.isClosed || this.state?.redundancy === undefined) return;
      this.onDaemonGone();
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        if (this.state?.redundancy !== undefined && !this.isClosed) this.startWatch();
      }, RESTART_DELAY_MS);
      this.restartTimer.unref();
    });
  }

  private stopWatch(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    this.watched?.stop();
    this.watched = null;
  }

  private async onLine(text: string): Promise<void> {
    const line = parseVrrpNotifyLine(text);
    if (line === null) return;
    if (line.kind === 'instance' && line.state === 'fault') this.lastFaultInstance = line.name;
    // Without a sync group (one instance: renderKeepalivedConf) the instance's transitions are the pair's.
    const isPairLine = line.kind === 'group' || (this.state !== null && !isSyncGrouped(this.state));
    if (!isPairLine) return;
    const transition: VrrpTransition = { at: new Date().toISOString(), from: this.lastGroupState, to: line.state, cause: await this.causeOf(line) };
    this.lastGroupState = line.state;
    if (line.state !== 'fault') this.lastFaultInstance = null;
    this.transitions.push(transition);
    if (this.transitions.length > TRANSITIONS_KEPT) this.transitions.shift();
    this.log.info({ from: transition.from, to: transition.to, cause: transition.cause }, 'vrrp transition');
    if (line.state === 'primary') await this.promptRa();
    this.onChange();
  }

  private async causeOf(line: VrrpNotifyLine): Promise<string> {
    const from = this.lastGroupState;
    switch (line.state) {
      case 'fault': {
        const health = (await this.host.readFile(fileLayoutOf(this.config).keepalived.health).catch(() => null))?.trim();
        if (health !== undefined && health !== '0') return 'the agent cannot apply the desired state (health file)';
        const heartbeat = await this.host.readFile(fileLayoutOf(this.config).keepalived.heartbeat).catch(() => null);
        if (isHeartbeatLapsed(heartbeat, Date.now())) return `the agent was stopped or stuck: its heartbeat grew older than ${HEARTBEAT_GRACE_SECONDS} s`;
        return this.lastFaultInstance === null ? 'keepalived reported a fault' : `link ${this.lastFaultInstance} or the public link it tracks is down`;
      }
      case 'primary':
        return from === 'backup'
          ? 'no advertisement from a higher-priority peer within the master-down interval (RFC 5798 §6.4.2)'
          : 'elected: no higher-priority peer advertises';
      case 'backup':
        return from === 'primary' ? 'a higher-priority peer advertises (preemption, RFC 5798 §6.4.3)' : 'started, or recovered, as backup';
      case 'stopped':
        return 'keepalived stopped';
    }
  }

  /**
   * A new primary's radvd advertises at once instead of at its next periodic
   * RA (up to MaxRtrAdvInterval later): a SIGHUP re-reads the same config and
   * sends an RA a few ms later, and unlike a restart never a goodbye
   * (docs/field-notes.md#radvd). keepalived has sent the unsolicited NAs.
   */
  private async promptRa(): Promise<void> {
    const pid = await readRadvdPid(this.host, this.config).catch(() => null);
    if (pid !== null && this.host.signal(pid, 'SIGHUP')) this.log.debug({ pid }, 'radvd prompted to advertise as the new primary');
  }

  /** Whether the peer answers on the sync link, and, while primary, whether another VR answers for the gateway. */
  private async probe(): Promise<void> {
    const state = this.state;
    const redundancy = state?.redundancy;
    if (state === null || redundancy === undefined) return;
    const { peer } = redundancy;
    const isPeerSeen = await this.answers(['ping', '-6', '-c', '1', '-W', '1', '-I', peer.interface, peer.address]);
    let isSplitBrain = false;
    const network = state.guestNetworks[0];
    if (network !== undefined && this.isHoldingGateway) {
      // Asked from the parent, whose solicitation never reaches this VR's own macvlan (macvlan mode
      // private): an answer comes from another holder of the gateway on the link.
      isSplitBrain = await this.answers([this.config.commands.ndisc6, '-1', '-q', '-r', '2', '-w', '300', virtualLinkLocalOf(redundancy, network.id), network.interface]);
    }
    if (isSplitBrain && !this.isSplitBrain) this.log.error({ interface: network?.interface }, 'split brain: another VR also holds the gateway');
    if (!isSplitBrain && this.isSplitBrain) this.log.info('split brain over: this VR alone holds the gateway');
    if (isPeerSeen !== this.isPeerSeen) this.log.info({ peer: peer.address }, isPeerSeen ? 'peer seen on the sync link' : 'peer not answering on the sync link');
    const isChanged = isSplitBrain !== this.isSplitBrain || isPeerSeen !== this.isPeerSeen;
    this.isSplitBrain = isSplitBrain;
    this.isPeerSeen = isPeerSeen;
    if (isChanged) this.onChange();
  }

  private answers(argv: readonly string[]): Promise<boolean> {
    return this.host.exec(argv, { timeoutMs: 3000 }).then(
      () => true,
      () => false,
    );
  }
}
