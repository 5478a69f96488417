import { formatJsonPath, type FieldError } from '../schema/validation.js';
import { databagFile, type DatabagName } from './databags.js';

/** Where in a databag a part of the translated desired state came from. */
export interface Origin {
  readonly databag: DatabagName;
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
  private readonly origins = new Map<string, Origin>();

  /** Records that the part at `specPath` of the desired state came from `origin`. */
  record(specPath: readonly PropertyKey[], databag: DatabagName, path: readonly PropertyKey[]): void {
    this.origins.set(formatJsonPath(specPath), { databag, path });
  }

  /** The error of the desired-state schema, renamed to the databag field it came from; its own path stays in the message. */
  locate(error: FieldError): FieldError {
    let best: { key: string; origin: Origin } | null = null;
    for (const [key, origin] of this.origins) {
      const isInside = error.path === key || error.path.startsWith(`${key}.`) || error.path.startsWith(`${key}[`);
      if (isInside && (best === null || key.length > best.key.length)) best = { key, origin };
    }
    if (best === null) return { path: `desired state: ${error.path}`, message: error.message };
    return { path: `${databagFile(best.origin.databag)}: ${formatJsonPath(best.origin.path)}`, message: `${error.message} (as ${error.path})` };
  }
}

/** An error at a databag field. */
export function fieldError(databag: DatabagName, path: readonly PropertyKey[], message: string): FieldError {
  return { path: `${databagFile(databag)}: ${formatJsonPath(path)}`, message };
}
