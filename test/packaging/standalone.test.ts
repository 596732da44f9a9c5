/**
 * Every program in dist/ runs from any directory with only Node.js: copied out of the
 * checkout (to a temp dir, where no node_modules is above it), started from another working
 * directory, with NODE_PATH unset. The plugins and the agent alone (one file each), the
 * server with dist/lib beside it (its native SQLite module). The server then uses what it
 * really loads at run time: the SQLite store in a file, the HTTP API, nodemailer (an alert
 * to a real SMTP server on loopback) and ssh2 (a check over SSH to a closed port); the
 * agent answers the stock check_nrpe with a check_ha_drbd run in-process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runProgram, type RunResult } from '../support/bin.ts';
import { ROOT } from '../support/paths.ts';
import { freePort } from '../support/ports.ts';
import { stopChild } from '../support/process.ts';
import { startSmtpSink } from '../support/smtp.ts';
import { requireFile } from '../support/require.ts';
import { removeDir, tempDir } from '../support/tmp.ts';
import { waitFor } from '../support/wait.ts';

const DIST = join(ROOT, 'dist');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const CHECK_NRPE = '/usr/lib/nagios/plugins/check_nrpe';

let dir: string; // the copy of dist/
let elsewhere: string; // the working directory the programs start in
const children = new Set<ChildProcess>();

/** The environment of a machine without the checkout: no NODE_PATH, no npm variables. */
function bareEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: elsewhere, LANG: 'C', ...extra };
}

/** runProgram from `elsewhere` (runProgram itself has no cwd: spawn through env -C). */
function runThere(file: string, args: readonly string[], env = bareEnv()): Promise<RunResult> {
  return runProgram('/usr/bin/env', ['-C', elsewhere, process.execPath, file, ...args], { env, timeoutMs: 20_000 });
}

beforeAll(() => {
  if (!existsSync(join(DIST, 'bin', 'hawatch-server.cjs'))) throw new Error(`${DIST} is not built: run 'npm run build' first (npm test does)`);
  // 0755: the agent, started as root, drops to nagios and then reads the fixture.
  dir = tempDir('hawatch-standalone-', { mode: 0o755 });
  elsewhere = tempDir('hawatch-cwd-', { mode: 0o755 });
  // Nothing above the copy may provide modules: a node_modules in a parent would hide a missing bundle.
  for (let d = dir; d !== '/'; d = dirname(d)) expect(existsSync(join(d, 'node_modules')), join(d, 'node_modules')).toBe(false);
  mkdirSync(join(dir, 'alone'));
  for (const f of readdirSync(join(DIST, 'bin'))) cpSync(join(DIST, 'bin', f), join(dir, 'alone', f));
  cpSync(join(DIST, 'bin', 'hawatch-server.cjs'), join(dir, 'server', 'bin', 'hawatch-server.cjs'));
  cpSync(join(DIST, 'lib'), join(dir, 'server', 'lib'), { recursive: true });
});

afterAll(async () => {
  await Promise.all([...children].map((c) => stopChild(c, 5000)));
  removeDir(dir);
  removeDir(elsewhere);
});

describe('bundles', () => {
  // Requires of packages esbuild left in a bundle: only optional ones, each in a try/catch or
  // never reached, may stay. A new entry here means a dependency that will be missing outside
  // the checkout.
  const OPTIONAL: Record<string, string> = {
    cardinal: 'mysql2 highlights SQL in debug output if cardinal is installed (try/catch)',
    'pg-native': 'pg loads libpq bindings only when asked for pg.native (never)',
    'supports-color': 'debug colours its output if supports-color is installed (try/catch)',
  };
  it('leave no require of a package outside node builtins but known optional ones', () => {
    for (const f of readdirSync(join(DIST, 'bin'))) {
      const text = readFileSync(join(DIST, 'bin', f), 'utf8');
      // A call, not the text of one inside a string (ajv keeps require("ajv/...") as code strings for standalone mode).
      const names = new Set([...text.matchAll(/(?<!['"`.\w])require\("([^"]+)"\)/g)].map((m) => m[1]!).filter((n) => !isBuiltin(n)));
      for (const n of names) expect(OPTIONAL, `${f} requires ${n}`).toHaveProperty([n]);
    }
  });

  it('carry the native SQLite module beside the server, built for this Node', () => {
    const addon = join(DIST, 'lib', 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
    expect(statSync(addon).size).toBeGreaterThan(100_000);
    for (const dep of ['bindings', 'file-uri-to-path']) expect(existsSync(join(DIST, 'lib', 'node_modules', dep, 'package.json')), dep).toBe(true);
    expect(readFileSync(join(DIST, 'THIRD-PARTY-LICENSES'), 'utf8')).toMatch(/^better-sqlite3 \S+ \(MIT\)$/m);
  });

  it('carry the chart library the service view serves (uPlot), with its licence', () => {
    for (const f of ['dist/uPlot.iife.min.js', 'dist/uPlot.min.css', 'LICENSE']) expect(statSync(join(DIST, 'lib', 'node_modules', 'uplot', f)).size, f).toBeGreaterThan(500);
    expect(readFileSync(join(DIST, 'THIRD-PARTY-LICENSES'), 'utf8')).toMatch(/^uplot \S+ \(MIT\)$/m);
  });
});

describe('a program copied alone out of dist/', () => {
  it('every check_ha_* answers -V with the package version and --help with its usage', async () => {
    const plugins = readdirSync(join(dir, 'alone')).filter((f) => f.startsWith('check_ha_'));
    expect(plugins.length).toBeGreaterThanOrEqual(11);
    // Four at a time: 22 Node start-ups one after the other would take most of the test's time.
    const one = async (f: string) => {
      const name = f.replace(/\.cjs$/, '');
      const v = await runThere(join(dir, 'alone', f), ['-V']);
      expect({ f, stdout: v.stdout, stderr: v.stderr }).toEqual({ f, stdout: `${name} ${VERSION} (hawatch)\n`, stderr: '' });
      const h = await runThere(join(dir, 'alone', f), ['--help']);
      expect(h.code, f).toBe(3); // as monitoring-plugins do
      expect(h.stdout, f).toMatch(/Usage/i);
      expect(h.stderr, f).toBe('');
    };
    for (let i = 0; i < plugins.length; i += 4) await Promise.all(plugins.slice(i, i + 4).map(one));
  });

  it('hawatch-agent answers -V and --check-config, and check_nrpe with an in-process check_ha_drbd', async () => {
    requireFile(CHECK_NRPE, 'nagios-nrpe-plugin');
    const agent = join(dir, 'alone', 'hawatch-agent.cjs');
    const v = await runThere(agent, ['-V']);
    expect(v.stdout).toMatch(new RegExp(`^hawatch-agent ${VERSION.replace(/\./g, '\\.')} `));
    const fixture = join(dir, 'drbd.txt');
    cpSync(join(ROOT, 'plugins', 'drbd', 'fixtures', 'proc-8.4-resync-7GiB.txt'), fixture);
    const port = await freePort();
    const cfg = join(dir, 'agent.cfg');
    // As root the agent must drop privileges (it refuses otherwise); as another user it runs as that user.
    const user = process.getuid?.() === 0 ? 'nrpe_user=nagios\nnrpe_group=nagios\n' : '';
    writeFileSync(cfg, `server_port=${port}\nserver_address=127.0.0.1\nallowed_hosts=127.0.0.1\n${user}command[drbd]=/usr/lib/nagios/plugins/check_ha_drbd --input-file ${fixture}\n`);
    const check = await runThere(agent, ['-c', cfg, '--check-config']);
    expect({ code: check.code, stderr: check.stderr }).toEqual({ code: 0, stderr: '' });
    expect(check.stdout).toBe(`${cfg}: 1 commands, fine\n`); // (sic: the agent's wording)
    const child = spawn(process.execPath, [agent, '-c', cfg], { cwd: elsewhere, env: bareEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    await waitFor('the copied agent', () => out.includes('"msg":"started"'), 10_000, { stopWhen: () => (child.exitCode !== null ? `it exited: ${out}` : undefined) });
    const r = await runProgram(CHECK_NRPE, ['-H', '127.0.0.1', '-p', String(port), '-t', '10', '-c', 'drbd'], { timeoutMs: 15_000 });
    expect(r.stdout).toMatch(/^DRBD WARNING - /);
    expect(r.code).toBe(1);
    expect(out).toMatch(/"mode":"inproc"/);
    await stopChild(child, 5000);
  });
});

describe('hawatch-server copied with dist/lib', () => {
  it('answers -V and check with an inventory', async () => {
    const server = join(dir, 'server', 'bin', 'hawatch-server.cjs');
    expect((await runThere(server, ['-V'])).stdout).toBe(`hawatch-server ${VERSION}\n`);
    const inv = join(ROOT, 'packaging', 'server', 'inventory.yaml');
    const r = await runThere(server, ['check', '--config', inv]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/: OK - 3 hosts, /);
  });

  it('runs: store in a file, /healthz, an email through nodemailer and a check through ssh2', async () => {
    const server = join(dir, 'server', 'bin', 'hawatch-server.cjs');
    const mails: string[] = [];
    const smtp = await startSmtpSink({ onMail: (m) => mails.push(m.raw) });
    const smtpPort = smtp.port;
    try {
      const closedPort = await freePort();
      const key = join(dir, 'id_ed25519');
      const kg = await runProgram(requireFile('/usr/bin/ssh-keygen', 'openssh-client'), ['-q', '-t', 'ed25519', '-N', '', '-f', key], { timeoutMs: 10_000 });
      expect(kg.code, kg.stderr).toBe(0);
      const inv = join(dir, 'run.yaml');
      writeFileSync(inv, `
server: { database: state/hawatch.db }
defaults: { check_interval: 1s, retry_interval: 1s, max_check_attempts: 1, timeout: 5s }
notifications:
  email: { smtp: { host: 127.0.0.1, port: ${smtpPort}, security: none, timeout: 3s }, from: hawatch@test.invalid }
  group_window: 0s
contacts:
  ops: { email: ops@test.invalid }
hosts:
  admin: { local: true, contacts: [ops] }
  far: { address: 127.0.0.1, ssh: { port: ${closedPort}, user: nagios, private_key_file: ${key}, host_key: "SHA256:${'A'.repeat(43)}" } }
services:
  - { name: broken, host: admin, command: $NODE$ $HAWATCH_SERVER$ demo-check dummy 2 down }
  - { name: over ssh, host: far, command: /bin/true }
`);
      mkdirSync(join(dir, 'state'));
      const port = await freePort();
      const child = spawn(process.execPath, [server, '--config', inv, '--listen', `127.0.0.1:${port}`, '--log-level', 'warn'], { cwd: elsewhere, env: bareEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(child);
      let out = '';
      child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
      const alive = () => (child.exitCode !== null ? `it exited: ${out}` : undefined);
      const base = `http://127.0.0.1:${port}`;
      await waitFor('/healthz', async () => (await fetch(`${base}/healthz`)).ok, 15_000, { stopWhen: alive });
      expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ ok: true });
      await waitFor('the alert email', () => mails.some((m) => /PROBLEM Service Alert: admin\/broken is CRITICAL/.test(m)), 20_000, { stopWhen: alive });
      const ssh = await waitFor('the SSH check', async () => {
        const j = (await (await fetch(`${base}/api/v1/objects/${encodeURIComponent('far/over ssh')}`)).json()) as { status?: { checked: boolean; output: string } };
        return j.status?.checked ? j.status.output : undefined;
      }, 15_000, { stopWhen: alive });
      expect(ssh).not.toMatch(/Cannot find module|not part of the hawatch build/);
      expect(ssh).toMatch(/ECONNREFUSED|refused/i);
      // The service view's chart library comes from dist/lib beside the copied server.
      const chart = await fetch(`${base}/vendor/uPlot.iife.min.js`);
      expect(chart.status, await chart.clone().text()).toBe(200);
      expect(await chart.text()).toContain('uPlot');
      expect((await fetch(`${base}/view?key=${encodeURIComponent('admin/broken')}`)).status).toBe(200);
      await stopChild(child, 10_000);
      expect(child.exitCode).toBe(0);
      expect(statSync(join(dir, 'state', 'hawatch.db')).size).toBeGreaterThan(0);
    } finally {
      await smtp.close();
    }
  });
});
