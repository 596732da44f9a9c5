/**
 * Several hawatch-server instances on one real PostgreSQL (issue 14 items 2-5): three built
 * servers (dist/bin/hawatch-server.cjs) as real processes on loopback, local checks whose
 * state the test flips through files (each run logs the pid of the server that ran it), a
 * real SMTP server as the sink, a local HTTP receiver as the dead-man service.
 *
 * One cluster of instances goes through the whole story in order (each step starts from
 * the previous one's state): the shards split and every object is checked by exactly one
 * instance; kill -9 of one while it owns problems in flight (its shards move within the
 * lease, each problem notified once, the monitoring of the instances says CRITICAL);
 * SIGSTOP of one past its lease then SIGCONT (fenced: nothing stale written, nothing sent
 * twice); a rolling restart (SIGTERM, start again: no check lost, nothing sent twice).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shardOf } from '../../server/ha/leases.ts';
import { createPrimary, requirePostgres, SUPERUSER_PASSWORD, type PgServer } from '../plugins/pgsql/pgcluster.ts';
import { freePort } from '../support/ports.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp.ts';
import { tempDir } from '../support/tmp.ts';
import { waitFor } from '../support/wait.ts';

const BIN = join(process.cwd(), 'dist/bin/hawatch-server.cjs');
const SHARDS = 8;
const LEASE_S = 4;
const HOSTS = Array.from({ length: 12 }, (_, i) => `h${i}`);

interface Mail { subject: string; messageId: string; text: string }
const mails: Mail[] = [];
const pings: string[] = [];
const children = new Set<ChildProcess>();
let pgs: PgServer;
let dir: string;
let smtp: SmtpSink | undefined;
let http: HttpServer;
let db: pg.Client;
let inventory: string;

interface Instance { name: string; child: ChildProcess; pid: number; log: string[]; base: string; exited: Promise<number | null> }

async function startInstance(name: string): Promise<Instance> {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, '--config', inventory, '--listen', `127.0.0.1:${port}`], { env: { ...process.env, PGPASSWORD: SUPERUSER_PASSWORD, HA_TOKEN: 'ha-token' }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const log: string[] = [];
  child.stdout?.on('data', (d: Buffer) => log.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => log.push(d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => {
    children.delete(child);
    resolve(code);
  }));
  const inst = { name, child, pid: child.pid as number, log, base: `http://127.0.0.1:${port}`, exited };
  try {
    await waitFor(`instance ${name} healthy`, async () => {
      try {
        return (await fetch(`${inst.base}/healthz`)).ok;
      } catch {
        return false;
      }
    }, 45_000);
  } catch (e) {
    throw new Error(`${(e as Error).message}: ${log.join('').slice(-2000)}`);
  }
  return inst;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const getJson = async (url: string): Promise<any> => (await fetch(url)).json();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Run { at: number; pid: number; key: string }
/** Check runs logged by the script: nanosecond time, the server's pid, the object. */
function runs(): Run[] {
  const text = existsSync(join(dir, 'runs.log')) ? readFileSync(join(dir, 'runs.log'), 'utf8') : '';
  return text.split('\n').filter(Boolean).map((l) => {
    const [ns, pid, key] = l.split(' ');
    return { at: Number(BigInt(ns as string) / 1_000_000n), pid: Number(pid), key: key as string };
  });
}

const setState = (host: string, state: number) => writeFileSync(join(dir, `${host}.state`), String(state));
const subjects = () => mails.map((m) => m.subject);
const count = (s: string) => subjects().filter((x) => x === s).length;

/** Which instance ran this host's check last. */
function ownerPid(host: string): number | undefined {
  return runs().filter((r) => r.key === host).at(-1)?.pid;
}

beforeAll(async () => {
  requirePostgres();
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run npm run build first (npm test does)`);
  dir = tempDir('hawatch-ha-');
  pgs = await createPrimary('ha-instances');
  db = new pg.Client({ host: '127.0.0.1', port: pgs.port, user: 'postgres', password: SUPERUSER_PASSWORD, database: 'postgres' });
  await db.connect();
  const smtpPort = await freePort();
  smtp = await startSmtpSink({ port: smtpPort, onMail: (m) => mails.push({ subject: m.subject, messageId: m.messageId, text: m.raw }) });
  http = createHttpServer((req, res) => {
    pings.push(String(req.headers['user-agent'] ?? ''));
    res.writeHead(200).end('ok');
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  const httpPort = (http.address() as { port: number }).port;
  const script = join(dir, 'check.sh');
  writeFileSync(script, `#!/bin/sh\necho "$(date +%s%N) $PPID $2" >> ${join(dir, 'runs.log')}\nstate=$(cat "$1")\necho "FLIP $2 state $state"\nexit "$state"\n`, { mode: 0o755 });
  for (const h of HOSTS) setState(h, 0);
  inventory = join(dir, 'inventory.yaml');
  writeFileSync(inventory, `
server:
  database: postgres://postgres@127.0.0.1:${pgs.port}/postgres
  api_token_env: HA_TOKEN
  ha: { shards: ${SHARDS}, lease: ${LEASE_S}s, contacts: [admin], deadman: { url: "http://127.0.0.1:${httpPort}/ping", every: 1s } }
# No flap detection: the earlier tests flip the states often enough to start flapping during the
# rolling restart (seen); 10 s timeouts, as a loaded CI machine needs.
defaults: { check_interval: 2s, retry_interval: 1s, max_check_attempts: 2, notification_interval: 0, timeout: 10s, flap_detection: false }
notifications:
  email: { smtp: { host: 127.0.0.1, port: ${smtpPort}, security: none, timeout: 3s }, from: hawatch@test.invalid }
  group_window: 0s
  group_threshold: 50
  retry: { initial: 500ms, max: 2s }
contacts:
  ops: { email: ops@test.invalid }
  admin: { email: admin@test.invalid }
hosts:
${HOSTS.map((h) => `  ${h}: { address: 127.0.0.1, local: true, check: none, contacts: [ops] }`).join('\n')}
services:
${HOSTS.map((h) => `  - { name: flip, host: ${h}, command: /bin/sh ${script} ${join(dir, `${h}.state`)} ${h} }`).join('\n')}
`);
}, 120_000);

afterAll(async () => {
  for (const c of children) {
    c.kill('SIGCONT');
    c.kill('SIGKILL');
  }
  await db?.end().catch(() => undefined);
  await smtp?.close();
  await new Promise<void>((r) => (http ? http.close(() => r()) : r()));
  pgs?.cleanup();
});

describe('three hawatch-server instances on one PostgreSQL', () => {
  const live: Instance[] = [];

  it('split the shards: every object is checked by exactly one instance, every instance shows all', async () => {
    for (const n of ['a', 'b', 'c']) live.push(await startInstance(n));
    await waitFor('three instances holding all shards', async () => {
      const st = await getJson(`${live[0]!.base}/api/v1/ha`);
      const alive = st.instances.filter((i: { alive: boolean }) => i.alive);
      return alive.length === 3 && alive.reduce((s: number, i: { shards: number }) => s + i.shards, 0) === SHARDS && alive.every((i: { shards: number }) => i.shards >= 2);
    }, 20_000);
    const from = Date.now() + 1500; // after the rebalance settled
    await sleep(6000);
    const window = runs().filter((r) => r.at >= from);
    const pids = new Set(live.map((i) => i.pid));
    for (const h of HOSTS) {
      const by = new Set(window.filter((r) => r.key === h).map((r) => r.pid));
      expect(by.size, `${h} checked by ${[...by].join(', ')}`).toBe(1);
      expect(pids.has([...by][0]!)).toBe(true);
    }
    // All three take part, each host's checks run where its shard is held.
    expect(new Set(window.map((r) => r.pid)).size).toBe(3);
    const byShard = new Map<number, Set<number>>();
    for (const r of window) byShard.set(shardOf(r.key, SHARDS), (byShard.get(shardOf(r.key, SHARDS)) ?? new Set()).add(r.pid));
    for (const [shard, set] of byShard) expect(set.size, `shard ${shard}`).toBe(1);
    // The read view: any instance serves the state of every object, and the instances.
    for (const i of live) {
      const s = await getJson(`${i.base}/api/v1/status`);
      const flips = s.objects.filter((o: { key: string; checked: boolean }) => o.key.endsWith('/flip') && o.checked);
      expect(flips.length, `objects checked as seen by ${i.name}`).toBe(HOSTS.length);
      const health = await getJson(`${i.base}/healthz`);
      expect(health).toMatchObject({ ok: true, ha: { postgres: true } });
      expect(health.ha.owned.length).toBeGreaterThanOrEqual(2);
      const metrics = await (await fetch(`${i.base}/metrics`)).text();
      expect(metrics).toMatch(/hawatch_ha_instances\{state="alive"\} 3/);
      expect(metrics).toMatch(/hawatch_ha_lease_age_seconds [0-9.]+/);
    }
    // The monitoring of the instances: OK with three; the dead-man service hears every instance.
    const me = await getJson(`${live[0]!.base}/api/v1/objects/hawatch/instances`);
    expect(me.status).toMatchObject({ stateName: 'OK', output: expect.stringMatching(/^3 instances: /) });
    // The status page shows each instance with its shards and lag (the long output), and the worst lag as perfdata.
    expect(me.status.longOutput.split('\n')).toEqual([0, 1, 2].map(() => expect.stringMatching(/^\S+: \d+ shards, last heartbeat \d+\.\d s ago$/)));
    expect(me.status.perfdata).toMatch(/^instances=3;;;0 gone=0;;;0 heartbeat_age=\d+\.\ds;;;0$/);
    const ids = (await getJson(`${live[0]!.base}/api/v1/ha`)).instances.map((i: { id: string }) => i.id);
    for (const id of ids) expect(pings.some((p) => p.includes(id))).toBe(true);
    expect(mails).toEqual([]);
  }, 60_000);

  let failoverS = NaN;

  it('kill -9 of an instance owning problems in flight: its shards move within the lease, each problem notified once', async () => {
    const victim = live[0]!;
    const mine = HOSTS.filter((h) => ownerPid(h) === victim.pid);
    expect(mine.length).toBeGreaterThan(0);
    // Problems in flight: the first (SOFT) result may be in, the HARD one not yet.
    for (const h of mine) setState(h, 2);
    await sleep(800);
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    await victim.exited;
    live.shift();
    await waitFor('the victim hosts checked by another instance', () => mine.every((h) => runs().some((r) => r.key === h && r.at > killedAt && r.pid !== victim.pid)), 20_000);
    // The first run by another instance (the victim's own checks still starting at the kill do not count).
    const first = Math.min(...mine.map((h) => runs().find((r) => r.key === h && r.at > killedAt && r.pid !== victim.pid)!.at));
    failoverS = (first - killedAt) / 1000;
    expect(failoverS).toBeLessThan(LEASE_S + 3);
    await waitFor('one PROBLEM per victim host', () => mine.every((h) => count(`** PROBLEM Service Alert: ${h}/flip is CRITICAL **`) === 1), 20_000);
    // The monitoring of the instances: one left without leaving.
    await waitFor('the instance problem', () => count('** PROBLEM Service Alert: hawatch/instances is CRITICAL **') === 1, 20_000);
    await sleep(3000);
    for (const h of mine) expect(count(`** PROBLEM Service Alert: ${h}/flip is CRITICAL **`), h).toBe(1);
    expect(count('** PROBLEM Service Alert: hawatch/instances is CRITICAL **')).toBe(1);
    expect(mails.filter((m) => m.subject.includes('hawatch/instances')).every((m) => m.text.includes('admin@test.invalid'))).toBe(true);
    // Recovery: once each.
    for (const h of mine) setState(h, 0);
    await waitFor('one RECOVERY per victim host', () => mine.every((h) => count(`** RECOVERY Service Alert: ${h}/flip is OK **`) === 1), 20_000);
    // The outbox holds one row per notification (the once-rule), each sent with the SMTP answer kept.
    const rows = (await db.query(`SELECT obj_key, change_id, count(*)::int AS n, min(provider_id) AS provider FROM outbox WHERE obj_key LIKE 'h%' GROUP BY 1, 2`)).rows;
    expect(rows.every((r) => r.n === 1)).toBe(true);
    expect(rows.every((r) => /queued as Q\d+/.test(String(r.provider)))).toBe(true);
    process.stdout.write(`ha failover: kill -9 to the first check of its shards on another instance ${failoverS.toFixed(2)} s (lease ${LEASE_S} s)\n`);
  }, 60_000);

  it('SIGSTOP past the lease, then SIGCONT: the paused instance writes nothing stale and sends nothing twice', async () => {
    live.push(await startInstance('d'));
    await waitFor('shards rebalanced over three', async () => {
      const st = await getJson(`${live[0]!.base}/api/v1/ha`);
      return st.instances.filter((i: { alive: boolean; shards: number }) => i.alive && i.shards >= 2).length === 3;
    }, 20_000);
    await sleep(3000);
    const paused = live[0]!;
    const mine = HOSTS.filter((h) => ownerPid(h) === paused.pid);
    expect(mine.length).toBeGreaterThan(0);
    const before = mails.length;
    const P = (h: string) => `** PROBLEM Service Alert: ${h}/flip is CRITICAL **`;
    const R = (h: string) => `** RECOVERY Service Alert: ${h}/flip is OK **`;
    const base = new Map(mine.map((h) => [h, [count(P(h)), count(R(h))] as const]));
    for (const h of mine) setState(h, 2);
    await sleep(800);
    paused.child.kill('SIGSTOP');
    const stoppedAt = Date.now();
    await waitFor('the paused hosts checked by another instance', () => mine.every((h) => runs().some((r) => r.key === h && r.at > stoppedAt && r.pid !== paused.pid)), 20_000);
    await waitFor('one PROBLEM per paused host', () => mine.every((h) => count(P(h)) === base.get(h)![0] + 1), 20_000);
    // Recovered meanwhile by the new owners; the paused one comes back with its old view.
    for (const h of mine) setState(h, 0);
    await waitFor('recovered', () => mine.every((h) => count(R(h)) === base.get(h)![1] + 1), 20_000);
    const statusBefore = (await db.query(`SELECT key, json FROM status WHERE key = ANY($1)`, [mine.map((h) => `${h}/flip`)])).rows.map((r) => JSON.parse(r.json).state);
    expect(statusBefore.every((s: number) => s === 0)).toBe(true);
    paused.child.kill('SIGCONT');
    await sleep(5000);
    // Nothing of the paused instance's old view was written: the states stay OK, no notification twice.
    const after = (await db.query(`SELECT key, json FROM status WHERE key = ANY($1)`, [mine.map((h) => `${h}/flip`)])).rows.map((r) => JSON.parse(r.json).state);
    expect(after.every((s: number) => s === 0)).toBe(true);
    for (const h of mine) {
      expect(count(P(h)), h).toBe(base.get(h)![0] + 1);
      expect(count(R(h)), h).toBe(base.get(h)![1] + 1);
    }
    expect(mails.slice(before).filter((m) => /possible duplicate/i.test(m.subject))).toEqual([]);
    // It noticed, and took its share again.
    expect(paused.log.join('')).toMatch(/no longer running shards|fenced/);
    await waitFor('the paused instance holds shards again', async () => (await getJson(`${paused.base}/healthz`)).ha?.owned.length >= 2, 20_000);
  }, 90_000);

  it('rolling restart (SIGTERM, start again): no check lost, nothing sent twice', async () => {
    const before = mails.length;
    const from = Date.now();
    for (let i = 0; i < live.length; i++) {
      const old = live[i]!;
      old.child.kill('SIGTERM');
      expect(await old.exited).toBe(0);
      live[i] = await startInstance(`${old.name}2`);
      await sleep(1500);
    }
    const to = Date.now();
    await sleep(2000);
    // Every object was checked throughout: no gap longer than its interval plus a lease renewal.
    for (const h of HOSTS) {
      const at = runs().filter((r) => r.key === h && r.at >= from && r.at <= to).map((r) => r.at);
      expect(at.length, h).toBeGreaterThan(2);
      const gaps = at.slice(1).map((t, i) => t - at[i]!);
      // The regular gap on this (loaded) machine, plus the hand-over (one renewal), plus slack: a
      // check skipped in the hand-over would add a whole interval on top.
      const median = [...gaps].sort((x, y) => x - y)[Math.floor(gaps.length / 2)]!;
      expect(Math.max(...gaps), `${h} gaps ${gaps.join(',')}`).toBeLessThan(median + (LEASE_S * 1000) / 3 + 1500);
    }
    // A clean leave is no problem: no new mail at all (no flip, no instance alert).
    // A check that timed out on a loaded machine (seen in CI: an UNKNOWN and its RECOVERY) is the
    // machine's, not the hand-over's: those pairs aside, nothing at all.
    const after = mails.slice(before);
    const timedOut = new Set(after.filter((m) => /check timed out after/.test(m.text)).map((m) => /Service Alert: (\S+) is/.exec(m.subject)?.[1]));
    const rest = after.filter((m) => !timedOut.has(/Service Alert: (\S+) is/.exec(m.subject)?.[1]));
    expect(rest.map((m) => m.subject), rest.map((m) => m.text.slice(0, 600)).join('\n---\n')).toEqual([]);
    const st = await getJson(`${live[0]!.base}/api/v1/ha`);
    expect(st.instances.filter((i: { left: boolean }) => i.left).length).toBeGreaterThanOrEqual(3);
  }, 90_000);
});
