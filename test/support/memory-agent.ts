import pino from 'pino';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import type { DesiredState } from '../../src/schema/desired-state.js';
import { agentConfigIn } from './agent-config.js';
import { MemoryHost } from './memory-host.js';

const config = agentConfigIn('/vr');
const silent = pino({ level: 'silent' });

/** An agent's reconciler on a fresh in-memory host with eth1–eth3, after its first reconcile of `state`. */
export async function startOnMemoryHost(state: DesiredState) {
  const host = new MemoryHost(['eth1', 'eth2', 'eth3']);
  const reconciler = new Reconciler(host, config, silent);
  await reconciler.load();
  const first = await reconciler.reconcile(state);
  return { host, reconciler, first };
}

/** The first reconcile of an agent started again on `host` with no memory of the one before, and its reconciler. */
export async function reconcileAfterRestart(host: MemoryHost, state: DesiredState) {
  const reconciler = new Reconciler(host, config, silent);
  await reconciler.load();
  return { reconciler, result: await reconciler.reconcile(state) };
}
