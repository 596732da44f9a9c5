/**
 * The npm package: `npm pack` of the built tree gives a tarball with dist/, README, LICENSE
 * and CHANGELOG (and no sources, no tests); `npm install -g` of it into a temp prefix, offline
 * (nothing may be fetched or compiled), gives check_ha_*, hawatch-agent and hawatch-server
 * commands that print the package version, and a server that opens its SQLite store.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runProgram } from '../support/bin.ts';
import { ROOT } from '../support/paths.ts';
import { freePort } from '../support/ports.ts';
import { stopChild } from '../support/process.ts';
import { removeDir, tempDir } from '../support/tmp.ts';
import { waitFor } from '../support/wait.ts';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; name: string; bin: Record<string, string>; dependencies?: Record<string, string> };
const NPM = join(dirname(process.execPath), 'npm');
let dir: string;
let tarball: string;
let packed: string[] = [];
const prefix = () => join(dir, 'prefix');
// The installed commands find node through their #!/usr/bin/env node line.
const env = () => ({ PATH: `${join(prefix(), 'bin')}:${dirname(process.execPath)}:/usr/bin:/bin`, HOME: dir, LANG: 'C' });

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'bin', 'hawatch-server.cjs'))) throw new Error(`${ROOT}/dist is not built: run 'npm run build' first (npm test does)`);
  dir = tempDir('hawatch-npm-');
  // --ignore-scripts: prepack would rebuild dist/ while other test files use it; npm test built it.
  const pack = await runProgram(NPM, ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { env: { ...process.env, npm_config_loglevel: 'error' }, timeoutMs: 60_000 });
  expect(pack.code, pack.stderr).toBe(0);
  const [info] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
  tarball = join(dir, info!.filename);
  packed = info!.files.map((f) => f.path);
}, 90_000);

afterAll(() => removeDir(dir));

describe('npm pack', () => {
  it('holds the built programs, the native module, README, LICENSE, CHANGELOG and nothing else', () => {
    const files = packed;
    const top = new Set(files.map((f) => (f.startsWith('dist/') ? f.split('/').slice(0, 2).join('/') : f)));
    expect([...top].sort()).toEqual(['CHANGELOG.md', 'LICENSE', 'README.md', 'dist/THIRD-PARTY-LICENSES', 'dist/bin', 'dist/lib', 'package.json']);
    for (const target of Object.values(pkg.bin)) expect(files, target).toContain(target);
    expect(files).toContain('dist/lib/node_modules/better-sqlite3/build/Release/better_sqlite3.node');
    // Everything is bundled: an install must not pull (or compile) libraries.
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
  });
});

describe('npm install -g of the tarball', () => {
  beforeAll(async () => {
    const r = await runProgram(NPM, ['install', '-g', '--prefix', prefix(), '--offline', '--no-audit', '--no-fund', tarball], { env: { ...process.env, npm_config_loglevel: 'error' }, timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
  }, 90_000);

  it('gives every command, each printing the package version', async () => {
    const bins = readdirSync(join(prefix(), 'bin')).sort();
    expect(bins).toEqual(Object.keys(pkg.bin).sort());
    const one = async (bin: string) => {
      const r = await runProgram('/usr/bin/env', ['-C', dir, bin, '-V'], { env: env(), timeoutMs: 20_000 });
      expect(r.stderr, bin).toBe('');
      expect(r.stdout, bin).toMatch(new RegExp(`^${bin} ${pkg.version.replace(/\./g, '\\.')}( |\\n)`));
    };
    for (let i = 0; i < bins.length; i += 4) await Promise.all(bins.slice(i, i + 4).map(one));
  });

  it('puts the agent where the source tree systemd unit (agent/hawatch-agent.service) runs it from', async () => {
    const unit = readFileSync(join(ROOT, 'agent', 'hawatch-agent.service'), 'utf8');
    const start = /^ExecStart=(\S+) (\S+)/m.exec(unit);
    expect(start?.[1]).toBe('/usr/bin/node');
    // npm install -g puts packages in PREFIX/lib/node_modules; the unit's PREFIX is /usr/local.
    expect(start?.[2]).toMatch(/^\/usr\/local\/lib\/node_modules\//);
    const installed = join(prefix(), start![2]!.slice('/usr/local/'.length));
    expect(existsSync(installed), installed).toBe(true);
    const r = await runProgram(process.execPath, [installed, '-V'], { env: env(), timeoutMs: 20_000 });
    expect(r.stdout).toMatch(/^hawatch-agent /);
  });

  it('installs a server that validates the example inventory and serves with a store', async () => {
    const check = await runProgram('/usr/bin/env', ['-C', dir, 'hawatch-server', 'check', '--config', join(ROOT, 'packaging', 'server', 'inventory.yaml')], { env: env(), timeoutMs: 20_000 });
    expect(check.code, check.stderr).toBe(0);
    const port = await freePort();
    const db = join(dir, 'state.db');
    const child = spawn(join(prefix(), 'bin', 'hawatch-server'), ['--listen', `127.0.0.1:${port}`, '--data', db, '--log-level', 'warn'], { cwd: dir, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    try {
      await waitFor('/healthz of the installed server', async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 15_000, {
        stopWhen: () => (child.exitCode !== null ? `it exited: ${out}` : undefined),
      });
      // The SQLite module was loaded from inside the installed package.
      expect(realpathSync(join(prefix(), 'bin', 'hawatch-server'))).toBe(join(prefix(), 'lib', 'node_modules', pkg.name, 'dist', 'bin', 'hawatch-server.cjs'));
      expect(existsSync(db)).toBe(true);
    } finally {
      await stopChild(child, 10_000);
    }
  });
});
