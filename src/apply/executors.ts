import type { AgentConfig } from '../schema/agent-config.js';
import { ExecError, type Host } from '../host/host.js';
import { readRadvdPid } from '../observe/read-host.js';
import { ROUTE_PROTOCOL } from '../plan/plan.js';
import type { Step, StepKind } from '../plan/steps.js';

/** What an executor works with. */
export interface ApplyContext {
  readonly host: Host;
  readonly config: AgentConfig;
}

/**
 * An executor does one effect and makes no decisions. It resolves with a note
 * when it did less than asked for a reason that is not a failure ("…,
 * ignoring"), and rejects when the effect did not happen.
 */
type Executor<K extends StepKind> = (step: Extract<Step, { kind: K }>, context: ApplyContext) => Promise<string | void>;

const RADVD_START_TIMEOUT_MS = 5000;
const SOLICIT_DEADLINE_MS = 4000;

const executors: { [K in StepKind]: Executor<K> } = {
  async checkRadvdConfig(step, { host, config }) {
    const candidate = `${config.paths.runtimeDir}/radvd.conf.check`;
    await host.writeFileAtomic(candidate, step.content);
    try {
      await host.exec([config.commands.radvd, '-c', '-C', candidate, '-m', 'stderr']);
    } finally {
      await host.removeFile(candidate);
    }
  },
  loadRuleset: (step, context) => loadNftDocument(step.document, context),
  updateRuleset: (step, context) => loadNftDocument(step.document, context),
  async loadRulesetStaged(step, context) {
    for (const document of step.documents) await loadNftDocument(document, context);
  },
  async setSysctl(step, { host }) {
    await host.writeSysctl(step.key, step.value);
  },
  async setLinkUp(step, { host, config }) {
    await host.exec([config.commands.ip, 'link', 'set', 'dev', step.interface, 'up']);
  },
  async solicitRouters(step, { host, config }) {
    const argv = [config.commands.rdisc6, '-1', '-q', '-r', '2', '-w', '700', step.interface];
    const deadline = Date.now() + SOLICIT_DEADLINE_MS;
    for (;;) {
      try {
        await host.exec(argv, { timeoutMs: 5000 });
        return;
      } catch (error) {
        // An RS needs a source: until the link-local address has passed DAD
        // (RFC 4862 §5.4), sending fails with EADDRNOTAVAIL.
        const isTentative = error instanceof ExecError && /Cannot assign requested address/.test(error.stderr);
        if (isTentative && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 250));
          continue;
        }
        const reason = error instanceof ExecError ? error.message : String(error);
        return `no router answered a solicitation on ${step.interface} (${reason}); the next periodic RA will do, ignoring`;
      }
    }
  },
  async addAddress(step, { host, config }) {
    await host.exec([config.commands.ip, '-6', 'addr', 'replace', `${step.address}/${step.prefixLength}`, 'dev', step.interface]);
  },
  async removeAddress(step, { host, config }) {
    await host.exec([config.commands.ip, '-6', 'addr', 'del', `${step.address}/${step.prefixLength}`, 'dev', step.interface]);
  },
  async replaceDefaultRoute(step, { host, config }) {
    const { ip } = config.commands;
    await host.exec([ip, '-6', 'route', 'replace', 'default', 'via', step.gateway, 'dev', step.interface, 'proto', ROUTE_PROTOCOL]);
  },
  async removeDefaultRoute(step, { host, config }) {
    const { ip } = config.commands;
    await host.exec([ip, '-6', 'route', 'del', 'default', 'via', step.gateway, 'dev', step.interface, 'proto', ROUTE_PROTOCOL]);
  },
  async writeInterfacesFile(step, { host, config }) {
    await host.writeFileAtomic(config.paths.interfacesFile, step.content);
  },
  async writeRadvdConfig(step, { host, config }) {
    await host.writeFileAtomic(config.paths.radvdConfig, step.content);
  },
  async removeRadvdConfig(_step, { host, config }) {
    await host.removeFile(config.paths.radvdConfig);
  },
  async startRadvd(_step, context) {
    const { host, config } = context;
    await host.removeFile(config.paths.radvdPidFile);
    await host.exec([config.commands.radvd, '-C', config.paths.radvdConfig, '-p', config.paths.radvdPidFile, '-m', 'syslog']);
    // radvd forks and writes its pid file after the parent has exited.
    const deadline = Date.now() + RADVD_START_TIMEOUT_MS;
    while ((await readRadvdPid(host, config)) === null) {
      if (Date.now() > deadline) throw new Error(`radvd wrote no pid file ${config.paths.radvdPidFile} within ${RADVD_START_TIMEOUT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  },
  async reloadRadvd(step, { host }) {
    if (!host.signal(step.pid, 'SIGHUP')) throw new Error(`radvd pid ${step.pid} is gone`);
  },
  async stopRadvd(step, { host }) {
    host.signal(step.pid, 'SIGTERM');
  },
};

/** Loads a libnftables JSON document: one transaction, all or nothing. */
async function loadNftDocument(document: string, { host, config }: ApplyContext): Promise<void> {
  // `nft -j -f -` cannot read a socketpair stdin, and argv hits E2BIG: a file it is.
  const path = `${config.paths.runtimeDir}/ruleset.json`;
  await host.writeFileAtomic(path, document, 0o600);
  await host.exec([config.commands.nft, '-j', '-f', path]);
}

/** Runs one step. */
export function applyStep(step: Step, context: ApplyContext): Promise<string | void> {
  const executor = executors[step.kind] as Executor<typeof step.kind>;
  return executor(step as never, context);
}
