import type { Ipv6Prefix } from '../schema/ipv6.js';

/**
 * A prefix a guest link no longer has, still advertised there with valid
 * and preferred lifetime 0 until `untilSeconds` (RFC 9096 §3.5): guests stop
 * choosing addresses from it at once (RFC 4862 §5.5.3 e keeps them valid for
 * at most two hours more), and the VR keeps its gateway address in it so the
 * guests' remaining flows still route. The window itself is kept by the
 * daemon (daemon/deprecations.ts); render only reads these.
 */
export interface DeprecatedPrefix {
  readonly interface: string;
  readonly prefix: Ipv6Prefix;
  readonly gateway: string;
  /** Seconds since the epoch. */
  readonly untilSeconds: number;
}
