/**
 * Words of zebra's configuration language (FRR 8.4) that the renderer writes
 * and the planner and the reader of zebra's running config must agree on.
 */

/** The line that makes zebra advertise on an interface; last, so the first RA carries every option. */
export const RA_ON = 'no ipv6 nd suppress-ra';

/** zebra's MaxRtrAdvInterval when none is configured, which `show running-config` then omits. */
export const ZEBRA_DEFAULT_RA_INTERVAL_SECONDS = 600;

/** The prefix lifetimes (valid, preferred) zebra uses and leaves unprinted when a prefix line names none: 30 d / 7 d. */
export const ZEBRA_DEFAULT_PREFIX_LIFETIMES = '2592000 604800';
