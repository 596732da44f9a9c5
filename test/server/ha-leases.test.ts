/**
 * Shard leases on a real PostgreSQL (issue 14 item 2): several instances share the shards,
 * rebalance as instances join and leave, take over a crashed or paused one's shards after
 * the lease, and a paused instance's write at its old epoch is refused by the fence.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FencedOut, shardOf, ShardLeases } from '../../server/ha/leases.ts';
import { parsePgUrl, PgSession } from '../../server/store/pg-connect.ts';
import { createPrimary, requirePostgres, SUPERUSER_PASSWORD, type PgServer } from '../plugins/pgsql/pgcluster.ts';

const SHARDS = 16;
let server: PgServer;
let pool: pg.Pool;

beforeAll(async () => {
  requirePostgres();
  server = await createPrimary('leases');
  pool = new pg.Pool({ host: '127.0.0.1', port: server.port, user: 'postgres', password: SUPERUSER_PASSWORD, database: 'postgres', max: 10 });
  await pool.query('CREATE TABLE results (shard int, epoch bigint, v text)');
}, 120_000);

afterAll(async () => {
  await pool?.end();
  server?.cleanup();
});

async function reset(): Promise<void> {
  await pool.query('DROP TABLE IF EXISTS hawatch_shards, hawatch_instances');
  await pool.query('TRUNCATE results');
}

/** A test clock: monotonic milliseconds moved by hand. */
function manualClock(): { now: () => number; add: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, add: (ms) => (t += ms) };
}

function leases(id: string, ttlMs = 2000, monotonic?: () => number): ShardLeases {
  return new ShardLeases(pool, { instanceId: id, shards: SHARDS, ttlMs, marginMs: 400, monotonic });
}

/** Every shard held by exactly one of the instances (in their own view), none by two. */
function expectPartition(all: readonly ShardLeases[]): void {
  const seen = new Map<number, string>();
  for (const l of all) {
    for (const { shard } of l.ownedShards()) {
      expect(seen.get(shard), `shard ${shard} held by ${seen.get(shard)} and ${l.instanceId}`).toBeUndefined();
      seen.set(shard, l.instanceId);
    }
  }
  expect([...seen.keys()].sort((a, b) => a - b)).toEqual([...Array(SHARDS).keys()]);
}

async function rounds(all: readonly ShardLeases[], n: number): Promise<void> {
  for (let i = 0; i < n; i++) for (const l of all) await l.tick();
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('shard leases in PostgreSQL', () => {
  it('two instances split the shards, a third joining takes its share without a restart', async () => {
    await reset();
    const a = leases('a');
    const b = leases('b');
    await a.migrate();
    await rounds([a, b], 3);
    expectPartition([a, b]);
    expect(a.ownedShards()).toHaveLength(8);
    expect(b.ownedShards()).toHaveLength(8);
    const c = leases('c');
    await rounds([a, b, c], 3);
    expectPartition([a, b, c]);
    for (const l of [a, b, c]) expect(l.ownedShards().length).toBeLessThanOrEqual(Math.ceil(SHARDS / 3));
    const view = await c.instances();
    expect(view.map((i) => [i.id, i.alive, i.shards])).toEqual([
      ['a', true, a.ownedShards().length],
      ['b', true, b.ownedShards().length],
      ['c', true, c.ownedShards().length],
    ]);
  });

  it('a crashed instance (no more renewals) loses its shards after the lease; the others take them at a higher epoch', async () => {
    await reset();
    const a = leases('a');
    const b = leases('b');
    await a.migrate();
    await rounds([a, b], 3);
    const ofA = a.ownedShards();
    expect(ofA.length).toBe(8);
    // a dies: only b ticks from here. Within one lease b has not taken a's shards...
    await b.tick();
    expect(b.ownedShards()).toHaveLength(8);
    await sleep(2300);
    const r = await b.tick();
    expect(r.instances.find((i) => i.id === 'a')).toMatchObject({ alive: false, left: false });
    expectPartition([b]);
    for (const s of ofA) expect(r.gained.find((g) => g.shard === s.shard)?.epoch).toBe(s.epoch + 1);
  });

  it('a paused instance stops acting by its own monotonic clock, and its late write is fenced out', async () => {
    await reset();
    const clock = manualClock();
    const a = leases('a', 2000, clock.now);
    const b = leases('b');
    await a.migrate();
    await rounds([a, b], 2);
    const shard = a.ownedShards()[0]!.shard;
    const epoch = a.epochOf(shard)!;
    // A write while the lease holds goes through.
    await a.fenced(shard, (tx) => tx.query('INSERT INTO results VALUES ($1, $2, $3)', [shard, epoch, 'in time']));
    // SIGSTOP: a's process does nothing for longer than the lease; b takes over.
    await sleep(2300);
    await b.tick();
    expect(b.epochOf(shard)).toBe(epoch + 1);
    // SIGCONT, before a's own clock has noticed (the worst case): the fence refuses the write.
    await expect(a.fenced(shard, (tx) => tx.query('INSERT INTO results VALUES ($1, $2, $3)', [shard, epoch, 'stale']))).rejects.toBeInstanceOf(FencedOut);
    expect(a.epochOf(shard)).toBeUndefined();
    const rows = await pool.query('SELECT v FROM results ORDER BY v');
    expect(rows.rows.map((x) => x.v)).toEqual(['in time']);
    // And without any database answer, the local view runs out on the monotonic clock alone.
    const other = a.ownedShards()[0]!.shard;
    expect(a.epochOf(other)).toBeDefined();
    clock.add(2000 - 400);
    expect(a.epochOf(other)).toBeUndefined();
    expect(a.ownedShards()).toEqual([]);
  });

  it('a write and a claim of the same shard do not interleave: the shard is not taken while the fenced transaction is open', async () => {
    await reset();
    const a = leases('a', 1000);
    const b = leases('b', 1000);
    await a.migrate();
    await a.tick();
    const shard = a.ownedShards()[0]!.shard;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const write = a.fenced(shard, async (tx) => {
      await tx.query('INSERT INTO results VALUES ($1, 0, $2)', [shard, 'slow write']);
      entered();
      await held;
    });
    try {
      await inside;
      await sleep(1200); // a's lease ran out in the database while its write is open
      await b.tick();
      // b took every other shard of the dead a, but not the one under a's open write.
      expect(b.epochOf(shard)).toBeUndefined();
      expect(b.ownedShards()).toHaveLength(SHARDS - 1);
    } finally {
      release();
      await write;
    }
    await b.tick();
    expect(b.epochOf(shard)).toBeDefined();
    expectPartition([b]);
  });

  it('a clean stop gives the shards back at once (rolling restart: no wait for the lease)', async () => {
    await reset();
    const a = leases('a', 60_000);
    const b = leases('b', 60_000);
    await a.migrate();
    await rounds([a, b], 2);
    await a.release();
    await b.tick();
    expectPartition([b]);
    const view = await b.instances();
    expect(view.find((i) => i.id === 'a')).toMatchObject({ left: true, alive: false, shards: 0 });
  });

  it('four instances ticking at the same time never hold a shard twice', async () => {
    await reset();
    const all = ['w', 'x', 'y', 'z'].map((id) => leases(id, 5000));
    await all[0]!.migrate();
    for (let i = 0; i < 15; i++) {
      await Promise.all(all.map((l) => l.tick()));
      const seen = new Set<number>();
      for (const l of all) for (const { shard } of l.ownedShards()) {
        expect(seen.has(shard)).toBe(false);
        seen.add(shard);
      }
    }
    expectPartition(all);
    for (const l of all) expect(l.ownedShards()).toHaveLength(4);
  });

  it('a session gone quiet inside a fenced write (cut off, paused) loses its shard lock to the idle limit, and the shard is taken over', async () => {
    await reset();
    const a = leases('a', 1000);
    const b = leases('b', 1000);
    await a.migrate();
    await rounds([a, b], 2);
    const shard = a.ownedShards()[0]!.shard;
    const epoch = a.epochOf(shard)!;
    // The fenced write's first statement, then nothing more: the client went silent (a firewall
    // rule, SIGSTOP), the server holds the row FOR SHARE with the transaction idle.
    const quiet = async (limitMs: number | undefined): Promise<PgSession> => {
      // Over the unix socket (trust): no password needed.
      const s = new PgSession(parsePgUrl(`postgres://postgres@${encodeURIComponent(server.dir)}:${server.port}/postgres`), limitMs ? { idleInTransactionMs: limitMs } : {});
      await s.run(async (c) => {
        await c.query('BEGIN');
        const ok = await c.query('SELECT 1 FROM hawatch_shards WHERE shard = $1 AND owner = $2 AND epoch = $3 FOR SHARE', [shard, 'a', epoch]);
        expect(ok.rowCount).toBe(1);
      });
      return s;
    };
    const takenBy = async (ms: number): Promise<boolean> => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        await b.tick();
        if (b.epochOf(shard) !== undefined) return true;
        await sleep(200);
      }
      return false;
    };
    // Without a limit the lock outlives the lease: the claim passes over the row (SKIP LOCKED).
    const held = await quiet(undefined);
    await sleep(1200); // a's lease (1 s) has run out in the database
    expect(await takenBy(2500)).toBe(false);
    await held.close().catch(() => undefined);
    await pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state = 'idle in transaction' AND pid <> pg_backend_pid()`);
    await reset();
    await a.migrate();
    await rounds([a, b], 2);
    // With the limit (what the coordinator sets on every session), the server ends the quiet session and the shard moves.
    const limited = await quiet(700);
    const from = Date.now();
    await sleep(1200);
    expect(await takenBy(3000)).toBe(true);
    expect(Date.now() - from).toBeLessThan(3500);
    await limited.close().catch(() => undefined);
  });

  it('hosts map to shards stably and spread', () => {
    expect(shardOf('db1', 64)).toBe(shardOf('db1', 64));
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 1600; i++) counts[shardOf(`node${i}`, 16)]!++;
    expect(Math.min(...counts)).toBeGreaterThan(60);
    expect(Math.max(...counts)).toBeLessThan(140);
  });
});
