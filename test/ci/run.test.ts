// Issue 11 item 7: the README's test command works for a user with sudo. `.ci/run` itself,
// unmodified, runs in a copy of its folder whose package lists are empty and where `npm` is a
// stub that makes node_modules and dist (the real one would install and test everything):
// run through sudo (SUDO_UID set) it gives those back to the calling user; without npm in the
// PATH sudo keeps it says what to do; not as root it says to use sudo.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/paths.ts';
import { requireRoot } from '../support/require.ts';
import { removeDir, tempDir } from '../support/tmp.ts';

const dir = tempDir('hawatch-cirun-', { mode: 0o755 });
afterAll(() => removeDir(dir));

function checkout(): { repo: string; bin: string } {
  const repo = join(dir, `repo-${Math.random().toString(36).slice(2)}`);
  mkdirSync(join(repo, '.ci/packages'), { recursive: true });
  copyFileSync(join(ROOT, '.ci/run'), join(repo, '.ci/run'));
  const bin = join(repo, 'stub-bin');
  mkdirSync(bin);
  // What npm ci and npm test leave in the checkout.
  writeFileSync(join(bin, 'npm'), '#!/bin/sh\nmkdir -p node_modules/x dist/bin test-output\ntouch node_modules/x/a dist/bin/b test-output/c\n');
  chmodSync(join(bin, 'npm'), 0o755);
  writeFileSync(join(bin, 'node'), '#!/bin/sh\nexit 0\n');
  chmodSync(join(bin, 'node'), 0o755);
  return { repo, bin };
}

describe('.ci/run', () => {
  it('started through sudo, gives node_modules, dist and test-output back to the user who called sudo', () => {
    requireRoot('.ci/run installs packages as root');
    const { repo, bin } = checkout();
    const r = spawnSync('bash', [join(repo, '.ci/run')], { encoding: 'utf8', env: { PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`, SUDO_UID: '65534', SUDO_GID: '65534', SUDO_USER: 'nobody' } });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    for (const f of ['node_modules', 'node_modules/x/a', 'dist/bin/b', 'test-output/c']) expect({ f, uid: statSync(join(repo, f)).uid }).toEqual({ f, uid: 65534 });
  });

  it('run as root without sudo keeps root as the owner', () => {
    requireRoot('.ci/run installs packages as root');
    const { repo, bin } = checkout();
    const r = spawnSync('bash', [join(repo, '.ci/run')], { encoding: 'utf8', env: { PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin` } });
    expect(r.status).toBe(0);
    expect(statSync(join(repo, 'dist/bin/b')).uid).toBe(0);
  });

  it('without npm in the PATH sudo keeps, says how to keep the PATH', () => {
    requireRoot('.ci/run installs packages as root');
    const { repo } = checkout();
    // A PATH with the system tools the script uses but no node or npm (like sudo's secure_path
    // when Node.js came from nvm).
    const tools = join(repo, 'tools-bin');
    mkdirSync(tools);
    for (const t of ['dirname', 'id', 'cat', 'sed', 'tr', 'grep', 'sort', 'chown']) symlinkSync(spawnSync('sh', ['-c', `command -v ${t}`], { encoding: 'utf8' }).stdout.trim(), join(tools, t));
    const r = spawnSync('/bin/bash', [join(repo, '.ci/run')], { encoding: 'utf8', env: { PATH: tools, SUDO_UID: '65534' } });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^\.ci\/run: node or npm is not in the PATH .*: install Node\.js 20 .*, or keep your PATH: sudo env PATH="\$PATH" bash \.ci\/run\n$/);
  });

  it('not as root, says to use sudo', () => {
    const { repo } = checkout();
    const r = spawnSync('runuser', ['-u', 'nobody', '--', 'bash', join(repo, '.ci/run')], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('.ci/run: must run as root (it installs Debian packages and starts test daemons): as a user with sudo, sudo bash .ci/run\n');
  });
});
