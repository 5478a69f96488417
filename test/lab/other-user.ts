import { chmodSync, constants, copyFileSync, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';

/**
 * Running a program as another user, from a checkout that user may not read.
 *
 * A checkout that lives in /root (mode 0700) or in a `mktemp -d` directory
 * (also 0700) hides its bundles and node_modules/.bin/node from every other
 * user. Run from there as nobody, node exits 1 with MODULE_NOT_FOUND before
 * the program starts, so a test that expects a refusal by a socket's modes
 * learns nothing about those modes. A test therefore copies what the other
 * user runs into a directory of its own that anyone can read.
 */

/** A Node binary and a script, copied where any user can read and run them. */
export interface StagedProgram {
  readonly node: string;
  readonly script: string;
}

/**
 * Copies `node` (as 0755) and `script` (as 0644) into a new directory `dir`
 * (0755) and returns the copies' paths. Every directory above `dir` must be
 * searchable by the other user (the lab's tempDir at 0711 is). Copies, not
 * hard links: a link shares the checkout file's inode, so its modes would be
 * the checkout's, and changing them would change the checkout.
 */
export function stageForOtherUsers(dir: string, node: string, script: string): StagedProgram {
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(dir, 0o755);
  const staged = { node: join(dir, 'node'), script: join(dir, basename(script)) };
  copyFileSync(node, staged.node, constants.COPYFILE_FICLONE);
  chmodSync(staged.node, 0o755);
  copyFileSync(script, staged.script);
  chmodSync(staged.script, 0o644);
  return staged;
}

/**
 * `argv` run as nobody:nogroup without supplementary groups, by setpriv
 * (util-linux). The exec that follows drops every capability (the new ids are
 * not 0 and setpriv sets no ambient ones), so the program is truly unprivileged.
 */
export function asNobody(argv: readonly string[]): string[] {
  return ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', ...argv];
}
