/**
 * Several hawatch-server instances on one PostgreSQL (issue 14, server.ha). Every instance
 * loads the same inventory; this module decides what this one does with it:
 *
 *  - Shards (ha/leases.ts): the objects of a host (its services; a cluster rule goes with
 *    its own virtual host) belong to shardOf(host). The scheduler and the monitor's tick act
 *    only on the objects of the shards this instance holds (monitor.mine).
 *  - Gaining a shard: its objects' latest state is read from PostgreSQL (what the previous
 *    owner wrote), taken into the state machine, and scheduled (overdue checks at once).
 *    Losing one: it is no longer scheduled and its writes still queued are dropped.
 *  - Fenced writes: every commit is one statement (store/postgres.ts commitStatement) that
 *    first locks the rows of the shards it writes FOR SHARE at this instance's epochs (the
 *    lease SQL of leases.fenced) and writes only the rows of those it found held; the part of
 *    the change whose shard is no longer held is dropped, not retried, and the shard dropped.
 *  - Read view: every instance keeps the status of ALL objects, to judge cluster rules whose
 *    members run elsewhere and to serve the API and page. It polls the status rows changed
 *    since its last poll once a second (ha/schema.ts: change sequence plus writer transaction
 *    id, so a row committed late with a low sequence number is not missed). A poll rather
 *    than LISTEN/NOTIFY: a notification is lost while the connection is down (a PostgreSQL
 *    failover), so the poll would be needed anyway; one indexed query a second is cheap.
 *  - The outbox is claimed (store/postgres.ts, PgHaHooks.claims): any instance delivers.
 *  - The monitoring of the instances: the owner of the shard of host `hawatch` judges the
 *    instances' heartbeats into the passive service hawatch/instances (CRITICAL: one gone
 *    without leaving; WARNING: the last one), notified like any problem. Every live instance
 *    pings the dead-man URL, so an outside service notices when all are gone.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import type { Monitor } from '../core/monitor.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import type { CheckStatus, Downtime } from '../state/types.ts';
import { within } from '../core/bounded.ts';
import { PgSession } from '../store/pg-connect.ts';
import type { FencePlan, PostgresStore } from '../store/postgres.ts';
import type { StoreChange } from '../store/types.ts';
import { HA_KEY, type HaSettings } from './config.ts';
import { shardOf, ShardLeases, type InstanceView } from './leases.ts';

export interface HaCoordinatorOptions {
  readonly settings: HaSettings;
  readonly store: PostgresStore;
  readonly monitor: Monitor;
  readonly scheduler: Scheduler;
  readonly passwordFile?: string | undefined;
  readonly log: (level: 'info' | 'warn' | 'error', msg: string) => void;
  /** Shown to the other instances (and on their pages). */
  readonly info?: Readonly<Record<string, unknown>>;
  /** Read-view poll interval (default 1 s). */
  readonly pollMs?: number;
}

export interface HaStatus {
  readonly instance: string;
  readonly shards: number;
  readonly owned: readonly number[];
  /** Seconds since the last successful lease renewal (null: never). */
  readonly leaseAgeS: number | null;
  readonly leaseMs: number;
  readonly postgres: boolean;
  readonly lastError: string | null;
  readonly instances: readonly InstanceView[];
  readonly fencedDrops: number;
  readonly viewLagS: number | null;
}

/** Instances that died or left are forgotten after this (their CRITICAL ends then). */
const FORGET_AFTER_S = 3600;
/** The instances service refreshes its lag lines this often when nothing else changed. */
const LAG_REFRESH_MS = 10_000;

/**
 * How long PostgreSQL keeps a session of this instance that went quiet inside a transaction
 * (cut off, paused): its fenced write's shard locks would keep the others' claims off the
 * shards past the lease. Half the lease, 1 to 5 s: well above a healthy gap between two
 * statements, so the takeover comes at most this long after the lease ran out.
 */
export function idleInTransactionMs(leaseMs: number): number {
  return Math.min(5000, Math.max(1000, Math.floor(leaseMs / 2)));
}

export function defaultInstanceId(): string {
  return `${hostname().replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 60)}-${randomBytes(3).toString('hex')}`;
}

const reason = (e: unknown): string => String((e as Error)?.message ?? e).split('\n')[0] ?? '';

export class HaCoordinator {
  readonly instanceId: string;
  private readonly o: HaCoordinatorOptions;
  private readonly leases: ShardLeases;
  private readonly leaseSession: PgSession;
  private readonly viewSession: PgSession;
  /** Shards this instance acts on: taken over (state loaded) at this epoch. */
  private readonly active = new Map<number, number>();
  private timers: NodeJS.Timeout[] = [];
  private ticking: Promise<void> | null = null;
  private polling: Promise<void> | null = null;
  private lastTickOk: number | null = null;
  private lastError: string | null = null;
  private lastViewOk: number | null = null;
  private instances: InstanceView[] = [];
  private cursor = 0;
  private prevXmin = '0';
  private readonly seqOf = new Map<string, number>();
  private judged: string | null = null;
  private judgedAt = 0;
  private stopped = false;
  fencedDrops = 0;
  /** Steps whenever `active` changes (monitor.setOwnership's scope). */
  private activeVersion = 0;

  constructor(o: HaCoordinatorOptions) {
    this.o = o;
    this.instanceId = o.settings.instanceId ?? defaultInstanceId();
    const target = o.store.session.target;
    // Own connections: a heartbeat must not wait behind a long commit, nor the read view.
    // Safety does not rest on this timeout (the local monotonic cut-off does): a slow renewal on a
    // loaded database may still land before the expiry, so it is given the whole lease.
    this.leaseSession = new PgSession(target, { passwordFile: o.passwordFile, queryTimeoutMs: Math.max(2000, o.settings.leaseMs), idleInTransactionMs: idleInTransactionMs(o.settings.leaseMs) });
    this.viewSession = new PgSession(target, { passwordFile: o.passwordFile, queryTimeoutMs: 10_000, idleInTransactionMs: idleInTransactionMs(o.settings.leaseMs) });
    const db = {
      query: (sql: string, params?: unknown[]) => this.leaseSession.run((c) => c.query(sql, params)),
      connect: () => Promise.reject(new Error('fenced writes run in the store transaction here')),
    } as unknown as Pick<pg.Pool, 'query' | 'connect'>;
    this.leases = new ShardLeases(db, { instanceId: this.instanceId, shards: o.settings.shards, ttlMs: o.settings.leaseMs, info: o.info ?? {} });
    o.monitor.setOwnership(
      (key) => this.acts(key),
      (key) => `another instance (shard ${this.shardOfKey(key) ?? '?'})`,
      // acts() needs the shard in `active`, which grows only with a version step
      { version: () => this.activeVersion, maybe: (key) => this.active.has(this.shardOfKey(key) ?? -1) },
    );
    o.store.ha.fence = (change) => this.fence(change);
    // A claim outlasts a send (SMTP timeouts) and a few lease renewals.
    o.store.ha.claims = { owner: this.instanceId, ttlS: Math.max(15, (3 * o.settings.leaseMs) / 1000) };
  }

  /** The host whose shard an object belongs to: a service's host, a cluster rule's virtual host. */
  private shardOfKey(key: string): number | null {
    const obj = this.o.monitor.object(key);
    if (!obj) return null;
    const host = obj.kind === 'host' ? obj.key : obj.kind === 'service' ? obj.service.hostName : obj.rule.hostName;
    return shardOf(host, this.o.settings.shards);
  }

  private acts(key: string): boolean {
    const shard = this.shardOfKey(key);
    if (shard === null) return false;
    const epoch = this.active.get(shard);
    return epoch !== undefined && this.leases.epochOf(shard) === epoch;
  }

  /** Checks the shard table against server.ha.shards; throws (the server does not start) when they differ. */
  async prepare(): Promise<void> {
    // The store's session holds the fenced writes' shard locks: a cut-off instance must not keep them.
    await this.o.store.session.limitIdleInTransaction(idleInTransactionMs(this.o.settings.leaseMs));
    await this.leaseSession.run(async (c) => {
      await c.query('INSERT INTO hawatch_shards (shard) SELECT generate_series(0, $1::int - 1) ON CONFLICT (shard) DO NOTHING', [this.o.settings.shards]);
      const r = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM hawatch_shards');
      const n = r.rows[0]?.n ?? 0;
      if (n !== this.o.settings.shards) {
        throw new Error(`server.ha.shards is ${this.o.settings.shards} but the database has ${n} shards: every instance must use the same number (change it only with all instances stopped, then delete the rows of hawatch_shards)`);
      }
    });
  }

  /** First lease round and read, then the timers. Never rejects (a failing database is retried). */
  async start(): Promise<void> {
    this.o.log('info', `several instances: this is ${this.instanceId}, ${this.o.settings.shards} shards, lease ${this.o.settings.leaseMs / 1000} s`);
    await this.tick();
    await this.poll();
    const every = (ms: number, fn: () => void) => this.timers.push(setInterval(fn, ms));
    every(this.leases.renewEveryMs, () => void this.tick());
    every(this.o.pollMs ?? 1000, () => {
      void this.poll();
      // The local lease view runs out by itself (monotonic): stop scheduling at once then.
      this.reconcile();
    });
    const dm = this.o.settings.deadman;
    if (dm) {
      void this.ping();
      every(dm.everyMs, () => void this.ping());
    }
  }

  /** One lease round, never two at once, never rejects. */
  tick(): Promise<void> {
    if (this.ticking) return this.ticking;
    this.ticking = this.tickOnce().finally(() => {
      this.ticking = null;
    });
    return this.ticking;
  }

  private async tickOnce(): Promise<void> {
    if (this.stopped) return;
    const started = performance.now();
    try {
      const r = await this.leases.tick();
      this.lastTickOk = started;
      if (this.lastError) this.o.log('info', `lease renewal works again (${r.owned.length} shards)`);
      this.lastError = null;
      this.instances = [...r.instances];
    } catch (e) {
      const why = `lease renewal failed: ${reason(e)}; the shards are dropped when the lease runs out`;
      if (this.lastError !== why) this.o.log('warn', why);
      this.lastError = why;
    }
    await this.takeOver();
    this.reconcile();
    if (this.lastError === null) await this.judge();
  }

  /** Loads the state of newly held shards, then acts on them. */
  private async takeOver(): Promise<void> {
    const fresh = this.leases.ownedShards().filter((s) => this.active.get(s.shard) !== s.epoch);
    if (!fresh.length || this.stopped) return;
    const shards = new Set(fresh.map((s) => s.shard));
    const keys = this.o.monitor.objects().map((o) => o.key).filter((k) => shards.has(this.shardOfKey(k) ?? -1));
    let statuses: CheckStatus[] = [];
    const downtimes = new Map<string, Downtime[]>(keys.map((k) => [k, []]));
    try {
      await this.viewSession.run(async (c) => {
        const st = await c.query<{ key: string; json: string; seq: number }>('SELECT key, json, seq FROM status WHERE key = ANY($1::text[])', [keys]);
        statuses = st.rows.flatMap((r) => {
          try {
            this.seqOf.set(r.key, Math.max(this.seqOf.get(r.key) ?? 0, r.seq));
            return [JSON.parse(r.json) as CheckStatus];
          } catch {
            return [];
          }
        });
        const dt = await c.query<{ key: string; json: string }>('SELECT key, json FROM downtime WHERE key = ANY($1::text[])', [keys]);
        for (const r of dt.rows) {
          try {
            downtimes.get(r.key)?.push(JSON.parse(r.json) as Downtime);
          } catch {
            /* an unreadable downtime is skipped (the store logs it at start) */
          }
        }
      });
    } catch (e) {
      this.o.log('warn', `taking over shards ${[...shards].join(', ')} waits: their state cannot be read (${reason(e)})`);
      return;
    }
    for (const s of fresh) this.active.set(s.shard, s.epoch);
    this.activeVersion++;
    this.o.monitor.adopt(statuses, downtimes);
    this.o.log('info', `took over shards ${[...shards].join(', ')} (${keys.length} objects)`);
    this.o.scheduler.plan({ overdueNow: true });
    this.o.monitor.evaluateClusterRules();
  }

  /** Stops acting on what is no longer held (lost, released, or the local lease view ran out). */
  private reconcile(): void {
    const gone: number[] = [];
    for (const [shard, epoch] of this.active) if (this.leases.epochOf(shard) !== epoch) gone.push(shard);
    if (!gone.length) return;
    for (const s of gone) this.active.delete(s);
    this.activeVersion++;
    const set = new Set(gone);
    const dropped = this.o.monitor.dropQueued((k) => set.has(this.shardOfKey(k) ?? -1));
    this.o.scheduler.plan();
    this.o.log('warn', `no longer running shards ${gone.join(', ')}${dropped ? ` (${dropped} queued writes dropped)` : ''}`);
    // Their state as the database has it now (the new owner's writes seen while they were ours were skipped).
    const keys = this.o.monitor.objects().map((o) => o.key).filter((k) => set.has(this.shardOfKey(k) ?? -1));
    void this.viewSession
      .run((c) => c.query<{ key: string; json: string; seq: number }>('SELECT key, json, seq FROM status WHERE key = ANY($1::text[])', [keys]))
      .then((r) => {
        const list: CheckStatus[] = [];
        for (const row of r.rows) {
          this.seqOf.set(row.key, Math.max(this.seqOf.get(row.key) ?? 0, row.seq));
          try {
            list.push(JSON.parse(row.json) as CheckStatus);
          } catch {
            /* unreadable: skipped */
          }
        }
        this.o.monitor.observe(list);
      })
      .catch(() => undefined);
  }

  /**
   * Plans every commit (store/postgres.ts FencePlan): the shards of the change's keys that this
   * instance acts on at the epoch it holds are asked for; the commit's statement writes only
   * the rows of those found held, and `done` gives up the others.
   */
  private fence(change: StoreChange): FencePlan | null {
    const wanted = new Map<number, number | undefined>();
    const note = (key: string) => {
      if (key === '') return; // free-form messages (daily summary): not an object's
      const shard = this.shardOfKey(key);
      if (shard !== null && !wanted.has(shard)) wanted.set(shard, this.active.get(shard) === this.leases.epochOf(shard) ? this.active.get(shard) : undefined);
    };
    for (const s of change.statuses) note(s.key);
    for (const k of change.downtimes?.keys() ?? []) note(k);
    for (const h of change.history) note(h.key);
    for (const r of change.outbox) note(r.notification.key);
    if (!wanted.size) return null;
    const asked = [...wanted].filter((e): e is [number, number] => e[1] !== undefined);
    return {
      owner: this.instanceId,
      asked,
      shardOf: (key) => (key === '' ? -1 : (this.shardOfKey(key) ?? -1)),
      done: (held, ch) => this.fenced(wanted, held, ch),
    };
  }

  /** After a commit: the shards it wanted but did not find held are given up; what it dropped of them is counted. */
  private fenced(wanted: ReadonlyMap<number, number | undefined>, held: ReadonlySet<number>, change: StoreChange): void {
    const denied = new Set([...wanted.keys()].filter((s) => !held.has(s)));
    if (!denied.size) return;
    const gone = (key: string) => key !== '' && denied.has(this.shardOfKey(key) ?? -1);
    const n = change.statuses.filter((s) => gone(s.key)).length + change.outbox.filter((r) => gone(r.notification.key)).length;
    this.fencedDrops += n;
    for (const s of denied) {
      this.leases.drop(s);
    }
    this.o.log('warn', `fenced: shards ${[...denied].join(', ')} are no longer held by ${this.instanceId}: ${n} statuses and notifications of them dropped, not written`);
    // After this commit: stop scheduling them.
    setImmediate(() => this.reconcile());
  }

  /** The read view: statuses the other instances wrote since the last poll. Never rejects. */
  poll(): Promise<void> {
    if (this.polling) return this.polling;
    this.polling = this.pollOnce()
      .catch((e: unknown) => {
        if (!this.stopped) this.o.log('warn', `reading the other instances' statuses failed: ${reason(e)}`);
      })
      .finally(() => {
        this.polling = null;
      });
    return this.polling;
  }

  private async pollOnce(): Promise<void> {
    if (this.stopped) return;
    const started = performance.now();
    const { rows, xmin } = await this.viewSession.run(async (c) => {
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      try {
        const x = await c.query<{ xmin: string }>('SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin');
        const r = await c.query<{ key: string; json: string; seq: number }>('SELECT key, json, seq FROM status WHERE seq > $1 OR xid >= $2::xid8', [this.cursor, this.prevXmin]);
        await c.query('COMMIT');
        return { rows: r.rows, xmin: x.rows[0]?.xmin ?? '0' };
      } catch (e) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
    });
    const changed: CheckStatus[] = [];
    for (const r of rows) {
      this.cursor = Math.max(this.cursor, r.seq);
      if (r.seq <= (this.seqOf.get(r.key) ?? 0)) continue;
      this.seqOf.set(r.key, r.seq);
      // This instance's own writes come back too: the monitor keeps its own state for them
      // (observe skips them), so they are not parsed (in bench:ha that was half the view's work).
      if (this.o.monitor.mine(r.key)) continue;
      try {
        changed.push(JSON.parse(r.json) as CheckStatus);
      } catch {
        /* unreadable: the store reports it */
      }
    }
    this.prevXmin = xmin;
    this.lastViewOk = started;
    if (changed.length) this.o.monitor.observe(changed);
  }

  /** The owner of hawatch/instances judges the instances from their heartbeats. */
  private async judge(): Promise<void> {
    if (!this.o.monitor.mine(HA_KEY)) {
      this.judged = null;
      return;
    }
    const all = this.instances;
    const gone = all.filter((i) => !i.alive && !i.left && i.heartbeatAgeS < FORGET_AFTER_S);
    const live = all.filter((i) => i.alive);
    const names = live.map((i) => `${i.id} (${i.shards} shards)`).join(', ');
    let state: 0 | 1 | 2 = 0;
    let output = `${live.length} instances: ${names}`;
    if (gone.length) {
      state = 2;
      output = `${gone.length} instance(s) gone without leaving, no heartbeat for more than ${this.o.settings.leaseMs / 1000} s: ${gone.map((i) => i.id).join(', ')}. Live: ${names || 'none'}`;
    } else if (live.length === 1 && all.length > 1) {
      // Alone after others were here (they left): the last one says so. A first start alone is not a problem.
      state = 1;
      output = `last instance: ${names}, no other instance is running`;
    }
    const s = this.o.monitor.status(HA_KEY);
    const now = Date.now();
    // One line per instance with its shards and its lag (seconds since its last heartbeat, by
    // the database clock), refreshed every LAG_REFRESH_MS even when nothing else changed.
    const longOutput = [...live, ...gone].map((i) => `${i.id}: ${i.alive ? `${i.shards} shards` : 'gone'}, last heartbeat ${i.heartbeatAgeS.toFixed(1)} s ago`).join('\n');
    const lag = Math.max(0, ...live.map((i) => i.heartbeatAgeS));
    if (this.judged !== `${state}\u0000${output}` || !s?.checked || s.state !== state || now - this.judgedAt >= LAG_REFRESH_MS) {
      try {
        this.o.monitor.submitPassiveResult(HA_KEY, { state, output, longOutput, perfdata: `instances=${live.length};;;0 gone=${gone.length};;;0 heartbeat_age=${lag.toFixed(1)}s;;;0`, executedAt: now, durationMs: 0 });
        this.judged = `${state}\u0000${output}`;
        this.judgedAt = now;
      } catch (e) {
        this.o.log('warn', `judging the instances failed: ${reason(e)}`);
      }
    }
    // Old departures are forgotten (an instance that died an hour ago stays CRITICAL until then).
    await this.leaseSession
      .run((c) => c.query(`DELETE FROM hawatch_instances WHERE heartbeat_at < now() - make_interval(secs => $1) AND id <> $2`, [FORGET_AFTER_S, this.instanceId]))
      .catch(() => undefined);
  }

  /** The dead-man ping: only while this instance holds a valid lease view (it is really working). */
  private async ping(): Promise<void> {
    const dm = this.o.settings.deadman;
    if (!dm || this.stopped || !this.leaseValid()) return;
    try {
      const res = await fetch(dm.url, { method: dm.method, signal: AbortSignal.timeout(10_000), headers: { 'user-agent': `hawatch-server ${this.instanceId}` }, ...(dm.method === 'POST' ? { body: `hawatch instance ${this.instanceId} alive` } : {}) });
      await res.body?.cancel();
      if (!res.ok) this.o.log('warn', `dead-man ping to ${new URL(dm.url).host} answered HTTP ${res.status}`);
    } catch (e) {
      this.o.log('warn', `dead-man ping to ${new URL(dm.url).host} failed: ${reason(e)}`);
    }
  }

  private leaseValid(): boolean {
    return this.lastTickOk !== null && performance.now() - this.lastTickOk < this.o.settings.leaseMs;
  }

  status(): HaStatus {
    const now = performance.now();
    return {
      instance: this.instanceId,
      shards: this.o.settings.shards,
      owned: [...this.active.keys()].filter((s) => this.leases.epochOf(s) === this.active.get(s)).sort((a, b) => a - b),
      leaseAgeS: this.lastTickOk === null ? null : (now - this.lastTickOk) / 1000,
      leaseMs: this.o.settings.leaseMs,
      postgres: this.lastError === null && this.lastTickOk !== null,
      lastError: this.lastError,
      instances: this.instances,
      fencedDrops: this.fencedDrops,
      viewLagS: this.lastViewOk === null ? null : (now - this.lastViewOk) / 1000,
    };
  }

  /** /healthz: PostgreSQL reachable (lease renewed within the lease), shards held or none to hold. */
  health(): { ok: boolean; ha: HaStatus } {
    const st = this.status();
    // Unhealthy as soon as the local lease view runs out (when this instance stops acting), not a margin later.
    return { ok: this.leaseValid() && this.leases.viewValid && st.postgres, ha: st };
  }

  /** A clean stop (after the last writes): every shard given back at once, marked as left. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    // Each wait is bounded: with PostgreSQL unreachable a stop still ends (the lease runs out by itself).
    await within(1000, Promise.all([this.ticking, this.polling]), () => undefined);
    this.active.clear();
    this.activeVersion++;
    const late = () => this.o.log('warn', 'giving the shards back got no answer in 2 s: the others take them when the lease runs out');
    await within(2000, this.leases.release().catch((e: unknown) => {
      this.o.log('warn', `giving the shards back failed (${reason(e)}): the others take them when the lease runs out`);
    }), late);
    await Promise.all([this.leaseSession.close(500), this.viewSession.close(500)]);
  }
}
