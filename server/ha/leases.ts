/**
 * Shard leases in PostgreSQL: several hawatch-server instances share the hosts without a
 * home-made consensus. Every rule here rests on PostgreSQL's own guarantees:
 *
 *  - One row per shard (owner, epoch, expires_at). A shard is claimed with an UPDATE of rows
 *    chosen by `FOR UPDATE SKIP LOCKED`, so two instances claiming at once take different
 *    shards, and every claim adds 1 to the shard's epoch.
 *  - All times are the database's `now()`: the instances' own clocks (which may jump) never
 *    decide who owns what. Locally an instance only uses its monotonic clock, to stop acting
 *    on its shards once `ttl - margin` has passed since the start of its last successful
 *    renewal (the database expiry is at least that far away, so it stops first).
 *  - A write of a shard's results is fenced: in the same transaction it locks the shard row
 *    `FOR SHARE` on (shard, owner, epoch, not expired). An instance that lost its lease
 *    (paused past the expiry, cut off from the database) writes nothing; the lock also holds
 *    a concurrent claim off the row (claims use SKIP LOCKED: the row is taken at a later
 *    renewal, after the write has committed).
 *
 * Balance: each instance keeps at most ceil(shards / live instances) shards; one over its
 * share gives the excess back (lowest-numbered kept), one under claims free or expired ones.
 * A clean stop gives everything back at once, so a rolling restart does not wait for expiry.
 */
import { performance } from 'node:perf_hooks';
import type pg from 'pg';

export const LEASE_SCHEMA = `
CREATE TABLE IF NOT EXISTS hawatch_instances (
  id text PRIMARY KEY,
  started_at timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  left_at timestamptz,
  info jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE TABLE IF NOT EXISTS hawatch_shards (
  shard integer PRIMARY KEY,
  owner text,
  epoch bigint NOT NULL DEFAULT 0,
  expires_at timestamptz NOT NULL DEFAULT '-infinity',
  acquired_at timestamptz
);
`;

export interface LeaseOptions {
  /** Unique per running instance (host name plus a random part: a restarted instance is a new one). */
  readonly instanceId: string;
  readonly shards: number;
  /** Lease length. Renewed every ttl/3 by the caller's timer (see renewEveryMs). */
  readonly ttlMs: number;
  /** Stop acting this long before the local view of the lease ends (covers the renewal's own latency). */
  readonly marginMs?: number;
  /** Free-form facts shown to the other instances (listen address, version). */
  readonly info?: Readonly<Record<string, unknown>>;
  /** Monotonic milliseconds; a test may pass its own. Never the wall clock. */
  readonly monotonic?: () => number;
}

export interface OwnedShard {
  readonly shard: number;
  readonly epoch: number;
}

export interface InstanceView {
  readonly id: string;
  /** Seconds since its last heartbeat, by the database clock. */
  readonly heartbeatAgeS: number;
  readonly alive: boolean;
  /** It stopped cleanly (release()); a clean leave is not a problem. */
  readonly left: boolean;
  readonly shards: number;
  readonly info: Record<string, unknown>;
}

export interface TickResult {
  readonly gained: readonly OwnedShard[];
  readonly lost: readonly number[];
  readonly released: readonly number[];
  readonly owned: readonly OwnedShard[];
  readonly instances: readonly InstanceView[];
}

/** The error a fenced write throws when the writer no longer holds the shard at that epoch. */
export class FencedOut extends Error {
  readonly shard: number;
  readonly epoch: number;
  constructor(shard: number, epoch: number) {
    super(`shard ${shard} is no longer held at epoch ${epoch}: the write was refused, the shard is dropped`);
    this.name = 'FencedOut';
    this.shard = shard;
    this.epoch = epoch;
  }
}

/** FNV-1a of the host name: stable across instances, versions and restarts. */
export function shardOf(host: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < host.length; i++) {
    h ^= host.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % shards;
}

type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

export class ShardLeases {
  private readonly ttlS: number;
  private readonly margin: number;
  private readonly mono: () => number;
  private owned = new Map<number, number>(); // shard -> epoch
  /** Monotonic time until which the owned shards may be acted on. */
  private validUntil = -Infinity;

  private readonly db: Pick<pg.Pool, 'query' | 'connect'>;
  private readonly o: LeaseOptions;

  constructor(db: Pick<pg.Pool, 'query' | 'connect'>, o: LeaseOptions) {
    this.db = db;
    this.o = o;
    if (!Number.isInteger(o.shards) || o.shards < 1 || o.shards > 4096) throw new Error(`shards must be a whole number from 1 to 4096, not ${o.shards}`);
    if (!(o.ttlMs >= 1000)) throw new Error(`the lease ttl must be at least 1 s, not ${o.ttlMs} ms`);
    this.ttlS = o.ttlMs / 1000;
    this.margin = o.marginMs ?? Math.min(2000, o.ttlMs / 5);
    this.mono = o.monotonic ?? (() => performance.now());
  }

  get instanceId(): string {
    return this.o.instanceId;
  }

  /** Every interval the caller should tick at: three renewals per lease. */
  get renewEveryMs(): number {
    return Math.max(250, Math.floor(this.o.ttlMs / 3));
  }

  async migrate(): Promise<void> {
    await this.db.query(LEASE_SCHEMA);
    await this.db.query('INSERT INTO hawatch_shards (shard) SELECT generate_series(0, $1::int - 1) ON CONFLICT (shard) DO NOTHING', [this.o.shards]);
  }

  /**
   * The shard's epoch if this instance may act on it now: held, and the local lease view
   * (monotonic) not run out. After a failed or late tick this turns false by itself.
   */
  epochOf(shard: number): number | undefined {
    if (this.mono() >= this.validUntil) return undefined;
    return this.owned.get(shard);
  }

  ownsHost(host: string): OwnedShard | undefined {
    const shard = shardOf(host, this.o.shards);
    const epoch = this.epochOf(shard);
    return epoch === undefined ? undefined : { shard, epoch };
  }

  /** Whether the local lease view (monotonic, ttl - margin from the last renewal's start) still holds. */
  get viewValid(): boolean {
    return this.mono() < this.validUntil;
  }

  ownedShards(): OwnedShard[] {
    if (this.mono() >= this.validUntil) return [];
    return [...this.owned].map(([shard, epoch]) => ({ shard, epoch })).sort((a, b) => a.shard - b.shard);
  }

  /**
   * One round: heartbeat, renew, rebalance. Throws when the database cannot be reached; the
   * shards then stay held locally only until the lease view runs out (epochOf turns false).
   */
  async tick(): Promise<TickResult> {
    const started = this.mono();
    const me = this.o.instanceId;
    await this.db.query(
      `INSERT INTO hawatch_instances (id, heartbeat_at, info) VALUES ($1, now(), $2::jsonb)
       ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), left_at = NULL, info = EXCLUDED.info`,
      [me, JSON.stringify(this.o.info ?? {})],
    );
    const renewed = await this.db.query<{ shard: number; epoch: string }>(
      `UPDATE hawatch_shards SET expires_at = now() + make_interval(secs => $2)
       WHERE owner = $1 AND expires_at > now() RETURNING shard, epoch`,
      [me, this.ttlS],
    );
    const before = new Map(this.owned);
    const now = new Map<number, number>(renewed.rows.map((r) => [r.shard, Number(r.epoch)]));
    // A shard renewed at another epoch than ours was lost and taken back meanwhile: it is a new lease.
    this.validUntil = started + this.o.ttlMs - this.margin;
    const instances = await this.instances();
    const live = instances.filter((i) => i.alive && !i.left).length || 1;
    const share = Math.ceil(this.o.shards / live);
    const released: number[] = [];
    if (now.size > share) {
      const excess = [...now.keys()].sort((a, b) => a - b).slice(share);
      // Stop acting first, then give back: nothing is done on a shard after it is offered.
      for (const s of excess) now.delete(s);
      this.owned = now;
      await this.db.query(`UPDATE hawatch_shards SET owner = NULL, expires_at = now() WHERE owner = $1 AND shard = ANY($2::int[])`, [me, excess]);
      released.push(...excess);
    } else if (now.size < share) {
      const claimed = await this.db.query<{ shard: number; epoch: string }>(
        `WITH free AS (
           SELECT shard FROM hawatch_shards WHERE owner IS NULL OR expires_at <= now()
           ORDER BY shard LIMIT $2 FOR UPDATE SKIP LOCKED)
         UPDATE hawatch_shards s SET owner = $1, epoch = s.epoch + 1, acquired_at = now(),
           expires_at = now() + make_interval(secs => $3)
         FROM free WHERE s.shard = free.shard RETURNING s.shard, s.epoch`,
        [me, share - now.size, this.ttlS],
      );
      for (const r of claimed.rows) now.set(r.shard, Number(r.epoch));
    }
    this.owned = now;
    const gained: OwnedShard[] = [];
    for (const [shard, epoch] of now) if (before.get(shard) !== epoch) gained.push({ shard, epoch });
    const lost = [...before.keys()].filter((s) => now.get(s) !== before.get(s) && !released.includes(s));
    return { gained: gained.sort((a, b) => a.shard - b.shard), lost: lost.sort((a, b) => a - b), released, owned: this.ownedShards(), instances: await this.instances() };
  }

  /** Stops acting on a shard at once (a fenced write found it taken); the next tick sees what the database says. */
  drop(shard: number): void {
    this.owned.delete(shard);
  }

  /** Every instance known, with its heartbeat age by the database clock and its shard count. */
  async instances(): Promise<InstanceView[]> {
    const r = await this.db.query<{ id: string; age: number; left: boolean; shards: string; info: Record<string, unknown> }>(
      `SELECT i.id, extract(epoch FROM now() - i.heartbeat_at)::float8 AS age, i.left_at IS NOT NULL AS left, i.info,
              (SELECT count(*) FROM hawatch_shards s WHERE s.owner = i.id AND s.expires_at > now()) AS shards
       FROM hawatch_instances i ORDER BY i.id`,
    );
    return r.rows.map((x) => ({ id: x.id, heartbeatAgeS: x.age, alive: !x.left && x.age < this.ttlS, left: x.left, shards: Number(x.shards), info: x.info }));
  }

  /** A clean stop: nothing acted on from now, every shard offered at once, marked as left. */
  async release(): Promise<void> {
    this.owned = new Map();
    this.validUntil = -Infinity;
    await this.db.query(`UPDATE hawatch_shards SET owner = NULL, expires_at = now() WHERE owner = $1`, [this.o.instanceId]);
    await this.db.query(`UPDATE hawatch_instances SET left_at = now() WHERE id = $1`, [this.o.instanceId]);
  }

  /**
   * Runs `write` in a transaction that first locks the shard's row at this instance's epoch.
   * Throws FencedOut (and drops the shard locally) when the lease is gone; nothing is written then.
   */
  async fenced<T>(shard: number, write: (tx: Queryable) => Promise<T>): Promise<T> {
    const epoch = this.epochOf(shard);
    if (epoch === undefined) throw new FencedOut(shard, this.owned.get(shard) ?? -1);
    const c = await this.db.connect();
    try {
      await c.query('BEGIN');
      const ok = await c.query(`SELECT 1 FROM hawatch_shards WHERE shard = $1 AND owner = $2 AND epoch = $3 AND expires_at > now() FOR SHARE`, [shard, this.o.instanceId, epoch]);
      if (ok.rowCount !== 1) {
        await c.query('ROLLBACK');
        this.owned.delete(shard);
        throw new FencedOut(shard, epoch);
      }
      const out = await write(c);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }
}
