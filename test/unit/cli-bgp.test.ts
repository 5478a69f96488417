import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatBgpTable } from '../../src/cli/bgp-format.js';
import { formatBgpSummary, formatStatus } from '../../src/cli/format.js';
import { EXIT, runCli, type CliIo } from '../../src/cli/run.js';
import { renderStatusLine } from '../../src/daemon/control-commands.js';
import { ControlSocketServer } from '../../src/daemon/control-socket.js';
import { describeBgp, type ControlRequest, type StatusResult } from '../../src/schema/control-protocol.js';
import type { BgpReport } from '../../src/schema/protocol.js';

/** vr6ctl's BGP output: the summary in `status` and the STATUS= line, and `show bgp`'s table. */

const NOW = Date.parse('2026-01-02T03:04:05.000Z');
const NOW_SECONDS = NOW / 1000;

function report(overrides: Partial<BgpReport> = {}): BgpReport {
  return {
    isBgpdAnswering: true,
    peers: [
      { address: '2001:db8:100::1', description: 'upstream-a', state: 'Established', upSinceEpochSeconds: NOW_SECONDS - 192, prefixesReceived: 1, prefixesSent: 1, resets: 0, lastError: null },
      {
        address: '2001:db8:fe::1',
        description: null,
        state: 'Active',
        upSinceEpochSeconds: null,
        prefixesReceived: null,
        prefixesSent: null,
        resets: 2,
        lastError: 'Cease/Administrative Shutdown (received): planned maintenance',
      },
    ],
    defaultRouteInKernel: true,
    defaultRouteGateway: 'fe80::1',
    ...overrides,
  };
}

const unknownPeers = (bgp: BgpReport) =>
  bgp.peers.map((peer) => ({ ...peer, state: null, upSinceEpochSeconds: null, prefixesReceived: null, prefixesSent: null, resets: null, lastError: null }));

describe('the BGP summary', () => {
  it('counts the sessions up, and says when bgpd does not answer or where the default route goes', () => {
    expect(describeBgp(report())).toBe('1/2 established');
    expect(formatBgpSummary(report())).toBe('1/2 established, default route via fe80::1');
    expect(formatBgpSummary(report({ defaultRouteInKernel: false, defaultRouteGateway: null }))).toBe('1/2 established');
    const silent = report({ isBgpdAnswering: false, defaultRouteInKernel: false, defaultRouteGateway: null });
    expect(formatBgpSummary({ ...silent, peers: unknownPeers(silent) })).toBe('0/2 established, bgpd not answering');
  });

  it('ends the STATUS= line and is a row of `status`, only with BGP', () => {
    const status = statusResult({ bgp: report() });
    expect(renderStatusLine(status)).toBe('generation 3 applied; management connected; public 2001:db8:100::5/64; bgp 1/2 established');
    expect(renderStatusLine(statusResult())).toBe('generation 3 applied; management connected; public 2001:db8:100::5/64');
    expect(formatStatus(status, NOW)).toContain('\npublic      2001:db8:100::5/64\nbgp         1/2 established, default route via fe80::1\n');
    expect(formatStatus(statusResult(), NOW)).not.toContain('bgp');
  });
});

describe('the `show bgp` table', () => {
  it('has a row per peer: how long each session is up, its counts, its last error', () => {
    expect(formatBgpTable(report(), NOW)).toBe(
      [
        'bgp 1/2 established; default route via fe80::1',
        'PEER             DESCRIPTION  STATE        UP     RECEIVED  SENT  RESETS  LAST ERROR',
        '2001:db8:100::1  upstream-a   Established  3m12s  1         1     0       -',
        '2001:db8:fe::1   -            Active       -      -         -     2       Cease/Administrative Shutdown (received): planned maintenance',
        '',
      ].join('\n'),
    );
  });

  it('shows unknown sessions while bgpd does not answer, and says when there is no BGP', () => {
    const silent = report({ isBgpdAnswering: false, defaultRouteInKernel: false, defaultRouteGateway: null });
    const table = formatBgpTable({ ...silent, peers: unknownPeers(silent) }, NOW).split('\n');
    expect(table[0]).toBe('bgp 0/2 established, bgpd not answering; no default route from BGP');
    expect(table[2]).toBe('2001:db8:100::1  upstream-a   unknown  -   -         -     -       -');
    expect(formatBgpTable(null, NOW)).toBe('no BGP: routing.protocol is not bgp, or no desired state has been accepted yet\n');
  });
});

describe('vr6ctl show bgp', () => {
  let directory: string;
  let server: ControlSocketServer;
  let answer: unknown = null;
  const requests: ControlRequest[] = [];

  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'vr6ctl-bgp-'));
    server = new ControlSocketServer(join(directory, 'control.sock'), async (request) => (requests.push(request), answer), pino({ level: 'silent' }));
    await server.listen();
  });

  afterAll(async () => {
    await server?.close();
    rmSync(directory, { recursive: true, force: true });
  });

  async function vr6ctl(argv: string[]) {
    let stdout = '';
    const io: CliIo = { write: (text) => void (stdout += text), writeError: () => undefined, readStdin: async () => '', env: {}, now: () => NOW };
    return { code: await runCli(['--socket', join(directory, 'control.sock'), ...argv], io), stdout };
  }

  it('asks for the bgp topic and prints the table, or the report itself with --json', async () => {
    answer = report();
    const table = await vr6ctl(['show', 'bgp']);
    expect(table.code).toBe(EXIT.ok);
    expect(requests.at(-1)).toEqual({ command: 'show', topic: 'bgp' });
    expect(table.stdout).toBe(formatBgpTable(report(), NOW));
    const json = await vr6ctl(['show', 'bgp', '--json']);
    expect(JSON.parse(json.stdout)).toEqual(report());
    answer = null;
    expect((await vr6ctl(['show', 'bgp'])).stdout).toMatch(/^no BGP: /);
  });
});

function statusResult(overrides: Partial<StatusResult> = {}): StatusResult {
  return {
    version: '0.1.0',
    pid: 4242,
    startedAt: '2026-01-02T01:00:00.000Z',
    logLevel: 'info',
    routerId: 'r-12-VM',
    management: { isConfigured: true, isConnected: true, url: 'wss://m', lastDisconnect: null },
    desiredGeneration: 3,
    applied: { generation: 3, ok: true, isConverged: true, durationMs: 412, components: {}, errors: [], remaining: [] },
    publicAddress: '2001:db8:100::5/64',
    bgp: null,
    observedWarnings: [],
    loop: { lastRunAt: '2026-01-02T03:03:53.000Z', isHealthy: true },
    recentProblems: [],
    ...overrides,
  };
}
