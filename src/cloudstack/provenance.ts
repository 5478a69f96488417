import { formatJsonPath, type FieldError } from '../schema/validation.js';
import { databagFile, type DatabagName } from './databags.js';

/** A file a part of the translated state comes from: a databag, or the agent's own config (`agent.json`) for what CloudStack does not send. */
export type OriginFile = DatabagName | 'agent';

/** Where in a databag (or the agent config) a part of the translated desired state came from. */
export interface Origin {
  readonly databag: OriginFile;
  readonly path: readonly PropertyKey[];
}

/**
 * The databag field behind each part of a translated desired state, so that
 * an error the desired-state schema finds (at `$.guestNetworks[1].prefix`)
 * names the file and field the operator can see (`guestnetwork.json:
 * $.eth3[0].router_guest_ip6_cidr`). The translation records an origin for
 * each part it writes; an error takes the origin of the longest recorded
 * path that contains it.
 */
export class Provenance {
  // Kept raw and formatted only when an error needs them: a valid 10,000-rule VPC records 50,000 of them.
  private readonly records: Array<{ readonly specPath: readonly PropertyKey[]; readonly origin: Origin }> = [];
  private keyed: Map<string, Origin> | null = null;

  /** Records that the part at `specPath` of the desired state came from `origin`. */
  record(specPath: readonly PropertyKey[], databag: OriginFile, path: readonly PropertyKey[]): void {
    this.records.push({ specPath, origin: { databag, path } });
    this.keyed = null;
  }

  /** Records that `toPath` came from wherever `fromPath` was recorded to come from (nothing when it was not). */
  copy(fromPath: readonly PropertyKey[], toPath: readonly PropertyKey[]): void {
    const key = formatJsonPath(fromPath);
    const found = this.records.find((record) => formatJsonPath(record.specPath) === key);
    if (found !== undefined) this.record(toPath, found.origin.databag, found.origin.path);
  }

  /** The error of the desired-state schema, renamed to the databag field it came from; its own path stays in the message. */
  locate(error: FieldError): FieldError {
    this.keyed ??= new Map(this.records.map(({ specPath, origin }) => [formatJsonPath(specPath), origin]));
    // The longest recorded path that contains the error's: walk up the error's path one step at a time.
    let best: { key: string; origin: Origin } | null = null;
    for (let key = error.path; key.length > 0 && best === null; key = parentPath(key)) {
      const origin = this.keyed.get(key);
      if (origin !== undefined) best = { key, origin };
    }
    if (best === null) return { path: `desired state: ${error.path}`, message: error.message };
    return { path: `${databagFile(best.origin.databag)}: ${formatJsonPath(best.origin.path)}`, message: `${error.message} (as ${error.path})` };
  }
}

// $.a.b[2] → $.a.b → $.a → $ → '' (the end).
function parentPath(path: string): string {
  const cut = Math.max(path.lastIndexOf('.'), path.lastIndexOf('['));
  return cut <= 0 ? '' : path.slice(0, cut);
}

/** An error at a databag field. */
export function fieldError(databag: OriginFile, path: readonly PropertyKey[], message: string): FieldError {
  return { path: `${databagFile(databag)}: ${formatJsonPath(path)}`, message };
}
