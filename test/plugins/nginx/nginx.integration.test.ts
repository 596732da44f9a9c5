/**
 * check_ha_nginx against a real nginx (Debian package) with real HTTP backends
 * (nginx-env.ts). The tests run in order on one nginx: each restores the backends it killed.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { perfValue, runBin, type BinResult } from '../../support/bin.ts';
import { waitFor } from '../../support/wait.ts';
import { startNginx, type NginxEnv } from './nginx-env.ts';

const BIN = 'check_ha_nginx';
let env: NginxEnv;

const check = (...args: string[]): Promise<BinResult> => runBin(BIN, ['--nginx', env.wrapper, '--state-dir', env.stateDir, ...args]);

/** Requests through nginx until one answers `status` (nginx needs a request to find a dead server). */
async function requests(path: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await env.get(path));
  return out;
}

beforeAll(async () => {
  env = await startNginx();
});

afterAll(async () => {
  await env?.stop();
});

describe('check_ha_nginx against a real nginx', () => {
  it('healthy: OK, upstreams from nginx -T (an include glob), the down server not counted, stub_status perfdata', async () => {
    const r = await check('--stub-status', `http://127.0.0.1:${env.port}/nginx_status`);
    expect(r.status).toBe('NGINX OK - 4/4 upstreams fully usable');
    expect(r.code).toBe(0);
    expect(r.perf).toContain('app_servers_up=2;2:;1:;0;2');
    expect(r.perf).toContain('web_servers_up=1;1:;1:;0;1');
    expect(perfValue(r.perf, 'web_backup_up')).toBe(1);
    expect(perfValue(r.perf, 'active')).toBeGreaterThanOrEqual(1);
    expect(r.perf).toMatch(/ requests=\d+c /);
    expect(r.stdout).toContain('[OK] master: nginx is running');
    expect(r.stdout).toContain(`[OK] server 127.0.0.1:${env.backends.app3.port}: marked down in the configuration, not counted`);
    // The HTTP probe with the expected status, and --config reading the files and the include itself.
    const h = await check('-u', '/health', '-e', '200');
    expect(h.code).toBe(0);
    expect(h.stdout).toContain('upstream app: 2/2 active servers usable (HTTP GET /health)');
    // As nginx reaches them: over the unix socket, and with TLS for proxy_pass https://.
    expect(h.stdout).toContain('upstream sock: 1/1 active servers usable (HTTP GET /health)');
    expect(h.stdout).toContain('upstream tls: 1/1 active servers usable (HTTPS GET /health)');
    expect(await env.get('/sock/x')).toBe(200);
    expect(await env.get('/tls/x')).toBe(200);
    const c = await check('--config', join(env.dir, 'nginx.conf'));
    expect(c.status).toBe('NGINX OK - 4/4 upstreams fully usable');
    expect(c.perf).toContain('app_servers_up=2;2:;1:;0;2');
  });

  it('errors in the log between two runs, a server nginx took out for fail_timeout, one server killed', async () => {
    expect((await check()).code).toBe(0); // the read position is now the end of the log
    await env.backends.app1.kill();
    expect(await requests('/app/x', 3)).toEqual([200, 200, 200]); // app2 answers for app1
    // Back again, but nginx took it out less than fail_timeout (30 s) ago: it gets no requests yet.
    await env.backends.app1.start();
    const r = await check();
    expect(r.code).toBe(1);
    expect(r.status).toMatch(/^NGINX WARNING - upstream app: 1\/2 active servers usable \(warning below 2\), 127\.0\.0\.1:\d+ taken out by nginx \(TCP connect\)/);
    expect(r.stdout).toMatch(/\[WARNING\] error log: since the last run: 1 connect error, 1 temporarily disabled \(warning above 0\)/);
    expect(r.stdout).toMatch(/\[CRITICAL\] server 127\.0\.0\.1:\d+: up, connected, taken out by nginx at [\d:]+ until [\d:]+ \(fail_timeout 30 s\)/);
    expect(perfValue(r.perf, 'app_log_connect_errors')).toBe(1);
    expect(perfValue(r.perf, 'app_log_disabled')).toBe(1);
    expect(perfValue(r.perf, 'web_log_connect_errors')).toBe(0);
    // Killed: the probe finds it down; nothing new in the log, so the log part is quiet.
    await env.backends.app1.kill();
    const dead = await check();
    expect(dead.code).toBe(1);
    expect(dead.status).toMatch(/^NGINX WARNING - upstream app: 1\/2 active servers usable \(warning below 2\), 127\.0\.0\.1:\d+ down \(TCP connect\)/);
    expect(dead.stdout).toMatch(/\[CRITICAL\] server 127\.0\.0\.1:\d+: down, connection refused/);
    expect(dead.stdout).not.toContain('since the last run');
    expect(perfValue(dead.perf, 'app_log_connect_errors')).toBe(0);
    await env.backends.app1.start();
    expect((await check()).code).toBe(0);
  });

  it('backup server: the primary failing its HTTP probe is served by the backup (WARNING), both gone is CRITICAL', async () => {
    env.backends.web1.healthStatus = 503;
    try {
      const r = await check('-u', '/health', '-U', 'web');
      expect(r.code).toBe(1);
      expect(r.status).toMatch(/^NGINX WARNING - upstream web: 0\/1 active servers usable, served by 1 backup server, 127\.0\.0\.1:\d+ down, 1\/1 backup \(HTTP GET \/health\)/);
      expect(r.stdout).toMatch(/\[CRITICAL\] server 127\.0\.0\.1:\d+: down, HTTP 503/);
      expect(r.stdout).not.toContain('upstream app');
      // 503 accepted by --expect: OK again.
      expect((await check('-u', '/health', '-U', 'web', '-e', '200,503')).code).toBe(0);
      await env.backends.web2.kill();
      const both = await check('-u', '/health', '-U', 'web');
      expect(both.code).toBe(2);
      expect(both.status).toMatch(/^NGINX CRITICAL - upstream web: 0\/1 active servers usable \(critical below 1\)/);
      expect(both.stdout).toMatch(/\[WARNING\] backup: 0\/1 backup servers usable/);
    } finally {
      env.backends.web1.healthStatus = 200;
      await env.backends.web2.start();
    }
  });

  it('unix socket and TLS backends: a failing health status and a dead socket are seen by the probe nginx would make', async () => {
    env.backends.tls.healthStatus = 500;
    await env.backends.sock.kill();
    try {
      const r = await check('-u', '/health', '-U', 'sock,tls', '--no-error-log');
      expect(r.code).toBe(2);
      expect(r.stdout).toMatch(/\[CRITICAL\] server unix:.*sock\.sock: down, no such socket/);
      expect(r.stdout).toMatch(/\[CRITICAL\] server 127\.0\.0\.1:\d+: down, HTTP 500/);
      // A plain HTTP request to the TLS port would not read HTTP 500: the probe spoke TLS.
      const tcp = await check('-U', 'tls', '--no-error-log');
      expect(tcp.code).toBe(0);
    } finally {
      env.backends.tls.healthStatus = 200;
      await env.backends.sock.start();
    }
  });

  it('all servers killed: CRITICAL, and no live upstreams in the log is CRITICAL', async () => {
    await check();
    await env.backends.app1.kill();
    await env.backends.app2.kill();
    try {
      const statuses = await requests('/app/x', 3);
      expect(statuses).toEqual([502, 502, 502]);
      const r = await check();
      expect(r.code).toBe(2);
      expect(r.status).toMatch(/^NGINX CRITICAL - upstream app: 0\/2 active servers usable \(critical below 1\)/);
      expect(r.stdout).toMatch(/\[CRITICAL\] error log: since the last run: \d+ no live upstreams \(requests failed\)/);
      expect(perfValue(r.perf, 'app_log_no_live')).toBeGreaterThanOrEqual(1);
      expect(perfValue(r.perf, 'app_servers_up')).toBe(0);
    } finally {
      await env.backends.app1.start();
      await env.backends.app2.start();
    }
  });

  it('log rotation: the rest of the rotated file and the new file are both read; a lost rest is WARNING', async () => {
    // The web upstream: its primary is its only one, nginx tries it (and logs) on every request.
    await check();
    await env.backends.web1.kill();
    try {
      await requests('/web/x', 1); // one connect error in the old file
      renameSync(env.errorLog, `${env.errorLog}.1`);
      env.reopenLogs();
      await waitFor('nginx reopening its error log', () => existsSync(env.errorLog), 5000);
      await requests('/web/x', 1); // and one in the new file
      const r1 = await check();
      expect(r1.stdout).toMatch(/\[OK\] error log: .*error\.log was rotated since the last run, the rest of the old file was read/);
      expect(perfValue(r1.perf, 'web_log_connect_errors')).toBe(2);
      expect(readFileSync(`${env.errorLog}.1`, 'utf8')).toMatch(/connect\(\) failed/);
      expect(readFileSync(env.errorLog, 'utf8')).toMatch(/connect\(\) failed/);
      // Errors in the new file after a rotation whose old file is gone.
      writeFileSync(env.errorLog, '', { flag: 'a' });
      await check();
      rmSync(`${env.errorLog}.1`);
      renameSync(env.errorLog, `${env.errorLog}.1`);
      env.reopenLogs();
      await waitFor('nginx reopening its error log', () => existsSync(env.errorLog), 5000);
      rmSync(`${env.errorLog}.1`);
      const r2 = await check();
      expect(r2.code).toBe(1);
      expect(r2.stdout).toMatch(/\[WARNING\] error log: .*error\.log was rotated since the last run: the rest of the old file is lost/);
    } finally {
      await env.backends.web1.start();
    }
  });

  it('the read position is kept in a JSON state file written by rename; an unusable state dir is UNKNOWN', async () => {
    const files = (await import('node:fs')).readdirSync(env.stateDir);
    expect(files.filter((f) => f.startsWith('nginx-errorlog-') && f.endsWith('.json'))).toHaveLength(1);
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const state = JSON.parse(readFileSync(join(env.stateDir, files.find((f) => f.endsWith('.json'))!), 'utf8')) as { offset: number; ino: number };
    expect(state.offset).toBeGreaterThanOrEqual(0);
    expect(state.ino).toBeGreaterThan(0);
    const blocker = join(env.dir, 'not-a-dir');
    writeFileSync(blocker, '');
    const r = await runBin(BIN, ['--nginx', env.wrapper, '--state-dir', join(blocker, 'state')]);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/\[UNKNOWN\] error log: cannot keep the read position in .*: ENOTDIR \(give --state-dir\)/);
  });

  it('a server that accepts but never answers: down after --probe-timeout, or the -t state, within -t', async () => {
    const { createServer } = await import('node:net');
    const held: import('node:net').Socket[] = [];
    const silent = createServer((c) => held.push(c));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const port = (silent.address() as import('node:net').AddressInfo).port;
    const conf = join(env.dir, 'silent.conf');
    writeFileSync(conf, `events {}\nhttp {\n upstream hang { server 127.0.0.1:${port}; server 127.0.0.1:${env.backends.app2.port}; }\n server { location / { proxy_pass http://hang; } }\n}\n`);
    try {
      const args = ['--config', conf, '--no-error-log', '--no-process-check', '-u', '/health'];
      const r = await runBin(BIN, [...args, '--probe-timeout', '1']);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(new RegExp(`server 127\\.0\\.0\\.1:${port}: down, no answer within 1\\.0 s`));
      expect(r.ms).toBeLessThan(2500);
      const t = await runBin(BIN, [...args, '--probe-timeout', '30', '-t', '2:CRITICAL']);
      expect(t.code).toBe(2);
      expect(t.status).toMatch(/plugin timed out after 2 s/);
      expect(t.ms).toBeLessThan(3500);
    } finally {
      for (const c of held) c.destroy();
      silent.close();
    }
  });

  it('nginx -T failing is UNKNOWN; nginx stopped is CRITICAL (master), stub_status refused is CRITICAL', async () => {
    const bad = join(env.dir, 'bad-nginx');
    writeFileSync(bad, '#!/bin/sh\necho "nginx: [emerg] unknown directive foo in /etc/nginx/nginx.conf:3" >&2\nexit 1\n', { mode: 0o755 });
    const b = await runBin(BIN, ['--nginx', bad, '--state-dir', env.stateDir]);
    expect(b.code).toBe(3);
    expect(b.status).toMatch(/nginx -T failed: nginx: \[emerg\] unknown directive foo/);
    await env.stopNginx();
    const r = await check('--stub-status', `http://127.0.0.1:${env.port}/nginx_status`);
    expect(r.code).toBe(2);
    expect(r.status).toMatch(/refused the connection: nginx is not running/);
    const m = await check();
    expect(m.code).toBe(2);
    expect(m.status).toMatch(/^NGINX CRITICAL - master: (no pid file .*nginx\.pid|pid file .*nginx\.pid is empty): nginx is not running/);
  });
});
