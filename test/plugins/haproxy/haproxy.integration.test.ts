/**
 * check_ha_haproxy against a real HAProxy with real HTTP backends (haproxy-env.ts), read
 * through the stats socket and through the stats page.
 */
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { perfValue, runBin, type BinResult } from '../../support/bin.ts';
import { removeDir, tempDir } from '../../support/tmp.ts';
import { waitFor } from '../../support/wait.ts';
import { startHaproxy, statusOf, STATS_PASSWORD, STATS_USER, type HaproxyEnv } from './haproxy-env.ts';

const BIN = 'check_ha_haproxy';
let env: HaproxyEnv;
let secrets: string;
let authFile: string;

const viaSocket = (...args: string[]): Promise<BinResult> => runBin(BIN, ['--socket', env.socket, ...args]);
const viaUrl = (...args: string[]): Promise<BinResult> => runBin(BIN, ['--url', env.statsUrl, '--auth-file', authFile, ...args]);

async function waitStatus(proxy: string, server: string, want: (s: string) => boolean, what: string): Promise<void> {
  await waitFor(`${proxy}/${server} ${what}`, async () => want((await statusOf(env, proxy, server)) ?? ''), 10_000, { everyMs: 50 });
}

beforeAll(async () => {
  env = await startHaproxy();
  secrets = tempDir('hawatch-hapsecret-');
  authFile = join(secrets, 'auth');
  writeFileSync(authFile, `${STATS_USER}:${STATS_PASSWORD}\n`, { mode: 0o600 });
  for (const s of ['web1', 'web2', 'web3', 'spare']) await waitStatus('be_web', s, (x) => x === 'UP', 'UP');
  await waitStatus('be_api', 'api1', (x) => x === 'UP', 'UP');
});

afterAll(async () => {
  await env?.stop();
  if (secrets) removeDir(secrets);
});

describe('check_ha_haproxy against a real HAProxy', () => {
  it('healthy: OK through the socket and through the stats page', async () => {
    const s = await viaSocket();
    expect(s.status).toBe('HAPROXY OK - 2/2 backends fully usable, 2/2 frontends open');
    expect(s.code).toBe(0);
    expect(s.perf).toContain('be_web_servers_up=3;3:;1:;0;3');
    expect(perfValue(s.perf, 'be_web_backup_up')).toBe(1);
    expect(s.stdout).toMatch(/\[OK\] process: HAProxy 2\.\d+/);

    const u = await viaUrl();
    expect(u.status).toBe('HAPROXY OK - 2/2 backends fully usable, 2/2 frontends open');
    expect(u.perf).toContain('be_web_servers_up=3;3:;1:;0;3');
    // The same with ;csv already given, and credentials from the environment.
    const u2 = await runBin(BIN, ['--url', `${env.statsUrl};csv`], { env: { HAPROXY_STATS_USER: STATS_USER, HAPROXY_STATS_PASSWORD: STATS_PASSWORD } });
    expect(u2.code).toBe(0);
  });

  it('stats page credentials: missing or wrong is UNKNOWN, in the URL is refused', async () => {
    const none = await runBin(BIN, ['--url', env.statsUrl]);
    expect(none.code).toBe(3);
    expect(none.status).toMatch(/answered 401: it needs credentials/);
    const badFile = join(secrets, 'bad');
    writeFileSync(badFile, `${STATS_USER}:wrong\n`, { mode: 0o600 });
    const wrong = await runBin(BIN, ['--url', env.statsUrl, '--auth-file', badFile]);
    expect(wrong.code).toBe(3);
    expect(wrong.status).toMatch(/the credentials were refused/);
    const inUrl = await runBin(BIN, ['--url', env.statsUrl.replace('http://', `http://${STATS_USER}:${STATS_PASSWORD}@`)]);
    expect(inUrl.code).toBe(3);
    expect(inUrl.status).toMatch(/credentials in --url would be visible in the process list/);
    expect(inUrl.stdout).not.toContain(STATS_PASSWORD);
  });

  it('frontend sessions near maxconn: 9 of 10 is WARNING (80%), CRITICAL past --sessions-critical', async () => {
    const conns: Socket[] = [];
    try {
      for (let i = 0; i < 9; i++) conns.push(connect(env.frontendPort, '127.0.0.1'));
      let r!: BinResult;
      await waitFor('9 sessions on fe_web', async () => {
        r = await viaSocket('--frontend', 'fe_web');
        return perfValue(r.perf, 'fe_web_fe_sessions') === 9;
      }, 10_000);
      expect(r.code).toBe(1);
      expect(r.status).toBe('HAPROXY WARNING - frontend fe_web: OPEN, 9/10 sessions (90%) (warning above 80 %)');
      expect(r.perf).toContain('fe_web_fe_sessions_pct=90%;80;95;0;100');
      const c = await viaSocket('--frontend', 'fe_web', '--sessions-critical', '85');
      expect(c.code).toBe(2);
    } finally {
      for (const c of conns) c.destroy();
    }
  });

  it('one backend server killed: WARNING (2/3 usable), through socket and page', async () => {
    await env.backends.web1.kill();
    await waitStatus('be_web', 'web1', (x) => x === 'DOWN', 'DOWN');
    const s = await viaSocket();
    expect(s.code).toBe(1);
    expect(s.status).toMatch(/^HAPROXY WARNING - backend be_web: 2\/3 active servers usable \(warning below 3\), web1 DOWN, 1\/1 backup/);
    expect(s.perf).toContain('be_web_servers_up=2;3:;1:;0;3');
    const u = await viaUrl('-b', 'be_web');
    expect(u.code).toBe(1);
    const pct = await viaSocket('-b', 'be_*', '--percent', '-w', '50:', '-c', '25:');
    expect(pct.code).toBe(0);
    expect(pct.perf).toContain('be_web_servers_up_pct=66.67%;50:;25:;0;100');
    const excluded = await viaSocket('--exclude-backend', 'be_web');
    expect(excluded.code).toBe(0);
    await env.backends.web1.revive();
    await waitStatus('be_web', 'web1', (x) => x === 'UP', 'UP again');
  });

  it('MAINT and DRAIN set through the socket: WARNING, or left out with --ignore-maint', async () => {
    await env.cli('set server be_web/web2 state maint');
    await env.cli('set server be_web/web3 state drain');
    try {
      await waitStatus('be_web', 'web3', (x) => x === 'DRAIN', 'DRAIN');
      const s = await viaSocket('-b', 'be_web');
      expect(s.code).toBe(1);
      expect(s.status).toMatch(/1\/3 active servers usable \(warning below 3\), web2 MAINT, web3 DRAIN/);
      const ignored = await viaSocket('-b', 'be_web', '--ignore-maint');
      expect(ignored.code).toBe(0);
      expect(ignored.perf).toContain('be_web_servers_up=1;1:;1:;0;1');
    } finally {
      await env.cli('set server be_web/web2 state ready');
      await env.cli('set server be_web/web3 state ready');
    }
    await waitStatus('be_web', 'web3', (x) => x === 'UP', 'UP again');
  });

  it('transitional states: UP 1/2 (going down) still counts, DOWN 1/2 (coming back) does not', async () => {
    // Each state lasts one check interval (200 ms): catch the real stats text while it shows
    // and hand it to the plugin on stdin, as a capture.
    let going = '';
    await env.backends.api1.kill();
    await waitFor('api1 UP 1/2', async () => {
      const t = await env.cli('show stat');
      if (/^be_api,api1,(?:[^,]*,){15}UP 1\/2,/m.test(t)) going = t;
      return going !== '';
    }, 10_000, { everyMs: 20 });
    const g = await runBin(BIN, ['--input-file', '-', '-b', 'be_api'], { input: going });
    expect(g.code).toBe(0);
    expect(g.status).toBe('HAPROXY OK - 1/1 backends fully usable');
    expect(g.stdout).toContain('api1 UP 1/2');

    await waitStatus('be_api', 'api1', (x) => x === 'DOWN', 'DOWN');
    const down = await viaSocket('-b', 'be_api');
    expect(down.code).toBe(2);
    expect(down.status).toBe('HAPROXY CRITICAL - backend be_api: 0/1 active servers usable (critical below 1), api1 DOWN');

    let coming = '';
    await env.backends.api1.revive();
    await waitFor('api1 DOWN 1/2', async () => {
      const t = await env.cli('show stat');
      if (/^be_api,api1,(?:[^,]*,){15}DOWN 1\/2,/m.test(t)) coming = t;
      return coming !== '';
    }, 10_000, { everyMs: 20 });
    const c = await runBin(BIN, ['--input-file', '-', '-b', 'be_api'], { input: coming });
    expect(c.code).toBe(2);
    expect(c.status).toContain('api1 DOWN 1/2');
    await waitStatus('be_api', 'api1', (x) => x === 'UP', 'UP again');
  });

  it('all active servers killed: the backup serves (WARNING); backup gone too: CRITICAL', async () => {
    const { web1, web2, web3, spare } = env.backends;
    await Promise.all([web1.kill(), web2.kill(), web3.kill()]);
    try {
      await waitFor('web1-3 DOWN', async () => {
        const states = await Promise.all(['web1', 'web2', 'web3'].map((s) => statusOf(env, 'be_web', s)));
        return states.every((x) => x === 'DOWN');
      }, 10_000, { everyMs: 50 });
      const b = await viaSocket('-b', 'be_web');
      expect(b.code).toBe(1);
      expect(b.status).toMatch(/^HAPROXY WARNING - backend be_web: 0\/3 active servers usable, served by 1 backup server/);
      await spare.kill();
      await waitStatus('be_web', 'spare', (x) => x === 'DOWN', 'DOWN');
      const none = await viaUrl('-b', 'be_web');
      expect(none.code).toBe(2);
      expect(none.status).toMatch(/^HAPROXY CRITICAL - backend be_web: 0\/3 active servers usable \(critical below 1\)/);
      expect(none.stdout).toMatch(/\[WARNING\] backup: 0\/1 backup servers usable \(spare DOWN\)/);
    } finally {
      for (const b of [web1, web2, web3, spare]) await b.revive();
    }
    for (const s of ['web1', 'web2', 'web3', 'spare']) await waitStatus('be_web', s, (x) => x === 'UP', 'UP again');
    expect((await viaSocket()).code).toBe(0);
  });

  it('a paused or stopped frontend is CRITICAL', async () => {
    await env.cli('disable frontend fe_web');
    const paused = await viaSocket();
    expect(paused.code).toBe(2);
    expect(paused.status).toMatch(/frontend fe_web: PAUSED/);
    await env.cli('enable frontend fe_web');
    expect((await viaSocket()).code).toBe(0);
  });

  it('a hung HAProxy (SIGSTOP) with -t 2:critical is CRITICAL within the timeout (the state after : wins, issue 9 item 8)', async () => {
    const pid = Number((await env.cli('show info')).match(/^Pid: (\d+)$/m)?.[1]);
    expect(pid).toBeGreaterThan(1);
    process.kill(pid, 'SIGSTOP');
    try {
      const [s, u] = await Promise.all([viaSocket('-t', '2:critical'), viaUrl('-t', '2:critical')]);
      for (const r of [s, u]) {
        expect(r.ms).toBeLessThan(3500); // -t 2 plus process start-up on a loaded CI machine
        expect(r.code).toBe(2);
        expect(r.status).toMatch(/plugin timed out after 2 s/);
      }
      const [plain] = await Promise.all([viaSocket('-t', '2')]);
      expect(plain.code).toBe(3);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });

  it('HAProxy stopped: socket and stats page are CRITICAL', async () => {
    await env.cli('shutdown frontend fe_web');
    const stopped = await viaSocket('--frontend', 'fe_web');
    expect(stopped.code).toBe(2);
    expect(stopped.status).toBe('HAPROXY CRITICAL - frontend fe_web: STOP, 0/10 sessions (0%)');
    const socket = env.socket;
    const url = env.statsUrl;
    await env.stop();
    const s = await runBin(BIN, ['--socket', socket]);
    expect(s.code).toBe(2);
    expect(s.status).toMatch(/HAProxy is not running/);
    const u = await runBin(BIN, ['--url', url, '--auth-file', authFile]);
    expect(u.code).toBe(2);
    expect(u.status).toMatch(/refused the connection: HAProxy \(or its stats listener\) is not running/);
  });
});
