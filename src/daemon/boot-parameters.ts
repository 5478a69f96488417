/**
 * CloudStack's boot parameters for a system VM: /var/cache/cloud/cmdline, one
 * line of `key=value` words separated by spaces (cloud-early-config reads the
 * same file). The management server sets them per VR, so they let it
 * configure the agent without touching the image. docs/operations.md lists
 * the keys and the order in which they win.
 */

/** The keys the agent reads, and what each sets. */
export const BOOT_KEYS = {
  /** Comma-separated ws:// or wss:// URLs; replace `management.urls` of the file. */
  mgmtUrls: 'vr6_mgmt_urls',
  /** The bearer token itself; wins over `management.tokenFile`. Never logged. */
  token: 'vr6_token',
  /** The router id; replaces `routerId` of the file. */
  routerId: 'vr6_router_id',
  /** The log level; replaces `logLevel` of the file. */
  logLevel: 'vr6_log_level',
  /** CloudStack's own VM name (r-12-VM): the router id when neither vr6_router_id nor the file sets one. */
  vmName: 'name',
} as const;

/** Parses the cmdline text; a word without `=` is ignored and a repeated key keeps its last value. */
export function parseBootParameters(text: string): Map<string, string> {
  const parameters = new Map<string, string>();
  for (const word of text.split(/\s+/)) {
    const equals = word.indexOf('=');
    if (equals <= 0) continue;
    // Split at the first '=' only: a token may end in base64 padding.
    parameters.set(word.slice(0, equals), word.slice(equals + 1));
  }
  return parameters;
}

/** What the boot parameters change: a config patch, the token, and which key set which config path. */
export interface BootOverrides {
  /** Merged over the file's JSON before validation. */
  readonly patch: { routerId?: string; logLevel?: string; management?: { urls: string[] } };
  readonly token: string | undefined;
  /** Config JSON path (as `$.a.b`) → the boot key that set it, for error messages. */
  readonly sources: ReadonlyMap<string, string>;
  /** The keys that were used, for the log and `vr6ctl show config` (never their values). */
  readonly usedKeys: string[];
}

/** Turns the parameters into overrides of the config `file` (the raw JSON object read from disk). */
export function renderBootOverrides(parameters: ReadonlyMap<string, string>, file: Record<string, unknown>): BootOverrides {
  const patch: { routerId?: string; logLevel?: string; management?: { urls: string[] } } = {};
  const sources = new Map<string, string>();
  const usedKeys: string[] = [];
  const urls = parameters.get(BOOT_KEYS.mgmtUrls);
  if (urls !== undefined) {
    patch.management = { urls: urls.split(',').filter((url) => url.length > 0) };
    sources.set('$.management.urls', BOOT_KEYS.mgmtUrls);
    usedKeys.push(BOOT_KEYS.mgmtUrls);
  }
  const routerId = parameters.get(BOOT_KEYS.routerId);
  const vmName = parameters.get(BOOT_KEYS.vmName);
  if (routerId !== undefined) {
    patch.routerId = routerId;
    sources.set('$.routerId', BOOT_KEYS.routerId);
    usedKeys.push(BOOT_KEYS.routerId);
  } else if (vmName !== undefined && file.routerId === undefined) {
    patch.routerId = vmName;
    sources.set('$.routerId', BOOT_KEYS.vmName);
    usedKeys.push(BOOT_KEYS.vmName);
  }
  const logLevel = parameters.get(BOOT_KEYS.logLevel);
  if (logLevel !== undefined) {
    patch.logLevel = logLevel;
    sources.set('$.logLevel', BOOT_KEYS.logLevel);
    usedKeys.push(BOOT_KEYS.logLevel);
  }
  const token = parameters.get(BOOT_KEYS.token);
  if (token !== undefined && token.length > 0) usedKeys.push(BOOT_KEYS.token);
  return { patch, token: token === '' ? undefined : token, sources, usedKeys };
}

/** The file's JSON with the patch applied; `management` is merged one level deep, the rest replaced. */
export function applyBootOverrides(file: Record<string, unknown>, overrides: BootOverrides): Record<string, unknown> {
  const { management, ...rest } = overrides.patch;
  const merged: Record<string, unknown> = { ...file, ...rest };
  if (management !== undefined) {
    const fileManagement = isRecord(file.management) ? file.management : {};
    merged.management = { ...fileManagement, ...management };
  }
  return merged;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
