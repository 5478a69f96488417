import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/** The Debian package must describe the same release and ship files that exist. */
describe('debian/', () => {
  it('has the version of package.json, which the bundles report', () => {
    const changelogVersion = /^vr6-agent \(([^)]+)\)/.exec(readFileSync('debian/changelog', 'utf8'))?.[1];
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(changelogVersion).toBe(version);
  });

  it('installs files that exist in the tree, and the unit it points at', () => {
    const sources = readFileSync('debian/vr6-agent.install', 'utf8').split('\n').filter(Boolean).map((line) => line.split(/\s+/)[0] ?? line);
    const pages = readFileSync('debian/vr6-agent.manpages', 'utf8').split('\n').filter(Boolean);
    const docs = readFileSync('debian/vr6-agent.docs', 'utf8').split('\n').filter(Boolean);
    for (const path of [...sources, ...pages, ...docs, 'debian/vr6-agent.service']) expect(existsSync(path), path).toBe(true);
  });
});
