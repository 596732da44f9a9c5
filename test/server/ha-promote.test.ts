/**
 * Issue 14: the PostgreSQL primary fails over to its streaming standby under three running
 * hawatch-server instances. Their `database` names both servers (libpq multi-host form; the
 * store's own connection picks the read-write one, pg-connect.ts). The primary is stopped,
 * the standby promoted (what an operator or Patroni does); the instances must reconnect
 * without a restart, take their leases again on the promoted server, go on checking, and
 * notify every problem raised before and after the switch exactly once.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrimary, createStandby, requirePostgres, SUPERUSER_PASSWORD, type PgServer } from '../plugins/pgsql/pgcluster.ts';
import { FlipChecks, haInventory, health, killAll, MailSink, problem, recovery, requireServerBuild, startServer, type ServerInstance } from '../support/ha.ts';
import { removeDir, tempDir } from '../support/tmp.ts';
import { waitFor } from '../support/wait.ts';

const SHARDS = 8;
const LEASE_MS = 4000;
const HOSTS = Array.from({ length: 9 }, (_, i) => `h${i}`);
const BEFORE = ['h0', 'h1', 'h2'];
const AFTER = ['h3', 'h4', 'h5'];

const children: ChildProcess[] = [];
const sink = new MailSink();
let primary: PgServer;
let standby: PgServer;
let dir: string;
let checks: FlipChecks;
let inventory: string;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  requirePostgres();
  requireServerBuild();
  dir = tempDir('hawatch-ha-promote-');
  primary = await createPrimary('ha-promote');
  standby = await createStandby(primary, 'hapromote_standby');
  await sink.start();
  checks = new FlipChecks(dir, HOSTS);
  inventory = join(dir, 'inventory.yaml');
  // connect_timeout 2: a host that does not answer is passed over quickly (here both refuse or answer at once).
  writeFileSync(inventory, haInventory({ database: `postgres://postgres@${primary.hostArg},${standby.hostArg}/postgres?connect_timeout=2`, shards: SHARDS, leaseMs: LEASE_MS, smtpHost: '127.0.0.1', smtpPort: sink.port, checks }));
}, 120_000);

afterAll(async () => {
  await killAll(children);
  await sink.close();
  primary?.cleanup();
  standby?.cleanup();
  if (dir) removeDir(dir);
});

/** All three healthy, each holding shards, all shards held. */
async function settled(live: readonly ServerInstance[]): Promise<boolean> {
  const hs = await Promise.all(live.map((i) => health(i)));
  if (hs.some((h) => h?.code !== 200 || (h.body.ha?.owned.length ?? 0) < 1)) return false;
  return hs.reduce((n, h) => n + h!.body.ha!.owned.length, 0) === SHARDS;
}

describe('three instances while PostgreSQL fails over to its standby', () => {
  it('promote the standby and stop the old primary: instances reconnect, leases are held again, checks go on, each problem notified once', async () => {
    const env = { ...process.env, PGPASSWORD: SUPERUSER_PASSWORD };
    const live: ServerInstance[] = [];
    for (const n of ['a', 'b', 'c']) live.push(await startServer(n, inventory, env, children));
    await waitFor('three instances sharing the shards', () => settled(live), 25_000);

    // Problems raised before the switch, notified on the primary.
    for (const h of BEFORE) checks.set(h, 2);
    await waitFor('one PROBLEM per host before the switch', () => BEFORE.every((h) => sink.count(problem(h)) === 1), 20_000);
    // The standby has replayed what the instances wrote (the outbox rows sent).
    await waitFor('the standby caught up', async () => {
      const [p] = await primary.sql<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
      const [s] = await standby.sql<{ ok: boolean }>(`SELECT pg_last_wal_replay_lsn() >= '${p!.lsn}'::pg_lsn AS ok`);
      return s?.ok === true;
    }, 10_000);

    // The switch: the primary stops (fast: its WAL is streamed to the standby first), the standby is promoted.
    const stoppedAt = Date.now();
    primary.stop('fast');
    await sleep(1000);
    await standby.sql('SELECT pg_promote(true, 60)');
    const promotedAt = Date.now();
    await waitFor('all three healthy on the promoted server, every shard held', () => settled(live), 30_000, { everyMs: 200 });
    const settledAt = Date.now();
    for (const i of live) expect(i.child.exitCode, `${i.name} still the same process`).toBeNull();

    // The leases are in the promoted server, held by the three running instances.
    const ids = new Set((await Promise.all(live.map((i) => health(i)))).map((h) => h!.body.ha!.instance));
    const shards = await standby.sql<{ owner: string; valid: boolean }>('SELECT owner, expires_at > now() AS valid FROM hawatch_shards');
    expect(shards).toHaveLength(SHARDS);
    for (const s of shards) {
      expect(ids.has(s.owner), `shard owner ${s.owner}`).toBe(true);
      expect(s.valid).toBe(true);
    }
    // Checks go on: every host checked after the switch, its result stored on the promoted server.
    await waitFor('every host checked after the promotion', () => HOSTS.every((h) => checks.runs().some((r) => r.key === h && r.at > promotedAt)), 15_000);
    const firstCheck = Math.min(...HOSTS.map((h) => checks.runs().find((r) => r.key === h && r.at > promotedAt)!.at));

    // Problems after the switch, and the recovery of the ones from before: each once.
    for (const h of AFTER) checks.set(h, 2);
    for (const h of BEFORE) checks.set(h, 0);
    await waitFor('one PROBLEM per host after the switch', () => AFTER.every((h) => sink.count(problem(h)) === 1), 25_000);
    await waitFor('one RECOVERY per host from before', () => BEFORE.every((h) => sink.count(recovery(h)) === 1), 25_000);
    await sleep(3000);
    for (const h of [...BEFORE, ...AFTER]) expect(sink.count(problem(h)), h).toBe(1);
    for (const h of BEFORE) expect(sink.count(recovery(h)), h).toBe(1);
    expect(sink.possibleDuplicates()).toEqual([]);
    // An instance whose heartbeat lagged past the lease during the switch (a loaded machine) may be
    // reported gone; it came back, so every such PROBLEM has its RECOVERY.
    const inst = sink.mails.filter((m) => m.subject.includes('hawatch/instances')).map((m) => m.subject);
    expect(inst.filter((x) => x.includes('PROBLEM')).length).toBe(inst.filter((x) => x.includes('RECOVERY')).length);
    // Nothing lost: the states written before and after are on the promoted server.
    const stored = await standby.sql<{ key: string; json: string }>(`SELECT key, json FROM status WHERE key LIKE '%/flip'`);
    const state = new Map(stored.map((r) => [r.key, (JSON.parse(r.json) as { state: number }).state]));
    for (const h of AFTER) expect(state.get(`${h}/flip`), h).toBe(2);
    for (const h of BEFORE) expect(state.get(`${h}/flip`), h).toBe(0);
    // The outbox on the promoted server: one row per notification, each sent.
    const rows = await standby.sql<{ n: number; sent: boolean }>(`SELECT count(*)::int AS n, bool_and(status = 'sent') AS sent FROM outbox WHERE obj_key LIKE 'h%' GROUP BY obj_key, change_id, contact, channel`);
    expect(rows.every((r) => r.n === 1 && r.sent)).toBe(true);
    process.stdout.write(`ha promote: primary stopped to standby promoted ${((promotedAt - stoppedAt) / 1000).toFixed(2)} s, promoted to all three healthy with every shard held ${((settledAt - promotedAt) / 1000).toFixed(2)} s, to the first check ${((firstCheck - promotedAt) / 1000).toFixed(2)} s; ${sink.mails.length} mails\n`);
  }, 90_000);
});
