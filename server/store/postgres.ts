/**
 * The PostgreSQL store (issue 14): the same data as the SQLite store (store/sqlite.ts),
 * answering with promises. A state change and its notifications are one transaction (the
 * transactional outbox); the monitor commits one change at a time, in order
 * (core/monitor.ts, write path). Each change is a handful of statements whatever its
 * size (arrays through unnest), so a long outage's merged change costs no more round trips.
 *
 * The connection (several hosts, a promoted standby found, password from a file or
 * $PGPASSWORD) is pg-connect.ts; the schema and its migrations pg-migrations.ts.
 */
import type pg from 'pg';
import type { Silence } from '../notify/silences.ts';
import type { CheckStatus, Downtime, HistoryEvent } from '../state/types.ts';
import { describeTarget, parsePgUrl, PgSession } from './pg-connect.ts';
import { migrate } from './pg-migrations.ts';
import { pgPerfdataStore } from './pg-perfdata.ts';
import type { StoreLog } from './sqlite.ts';
import type { AnyStore, OutboxRow, StoreChange } from './types.ts';
import { changeIdOf } from '../ha/once.ts';
import { reason, toRow, type OutboxDbRow } from './outbox-row.ts';

export interface PostgresStoreOptions {
  readonly passwordFile?: string | undefined;
  readonly now?: () => number;
  readonly log?: StoreLog;
  readonly queryTimeoutMs?: number;
  /** See AnyStore.groupCommitMs; 0 = a transaction per change. Default 20 ms. */
  readonly groupCommitMs?: number;
}

/**
 * Several instances (ha/coordinator.ts): `fence` plans every commit: the commit's one statement
 * checks (and locks FOR SHARE) this instance's shard leases and writes only the rows of the
 * shards it still holds; `claims` makes the outbox reads claims (FOR UPDATE SKIP LOCKED,
 * held until an expiry), so every instance may deliver and no row goes out twice.
 */
export interface PgHaHooks {
  fence: ((change: StoreChange) => FencePlan | null) | null;
  claims: { readonly owner: string; readonly ttlS: number } | null;
}

/**
 * What a commit may write, decided in its own statement: the shards `asked` (with this
 * instance's epochs) are locked FOR SHARE where `owner` still holds them unexpired, and only
 * rows of those shards (or of no shard: `shardOf` gives -1) are written; `done` hears which
 * shards were held and gives up the others. A row whose shard is not asked is never written
 * (-2: nothing may be written yet).
 */
export interface FencePlan {
  readonly owner: string;
  readonly asked: readonly (readonly [number, number])[];
  shardOf(key: string): number;
  done(held: ReadonlySet<number>, change: StoreChange): void;
}

/** A claimed outbox row that this instance no longer holds (another took it after the claim expired): not sent. */
export class ClaimLost extends Error {
  override name = 'ClaimLost';
}

export type PostgresStore = AnyStore & { readonly session: PgSession; readonly describe: string; readonly ha: PgHaHooks };

/** Connects, applies the migrations, returns the store. Throws with what to do when it cannot. */
export async function openPostgresStore(url: string, o: PostgresStoreOptions = {}): Promise<PostgresStore> {
  const target = parsePgUrl(url);
  const where = describeTarget(target);
  const session = new PgSession(target, { passwordFile: o.passwordFile, queryTimeoutMs: o.queryTimeoutMs });
  const now = o.now ?? Date.now;
  const log: StoreLog = o.log ?? ((_l, m) => process.stderr.write(`hawatch-server: ${m}\n`));
  try {
    await session.run((c) => migrate(c));
  } catch (e) {
    await session.close();
    throw new Error(`${where}: ${reason(e)}`);
  }
  /** Rows found undecodable whose quarantine could not be written yet: skipped. */
  const unreadable = new Set<number>();

  async function loadJson<T>(table: 'status' | 'downtime' | 'silence', label: string): Promise<T[]> {
    const rows = (await session.run((c) => c.query(`SELECT ${table === 'status' ? 'key' : 'id AS key'}, json FROM ${table}`))).rows as { key: string; json: string }[];
    const out: T[] = [];
    for (const r of rows) {
      try {
        out.push(JSON.parse(r.json) as T);
      } catch (e) {
        log('error', `${where}: stored ${label} row ${r.key} is unreadable (${reason(e)}): ignored`);
      }
    }
    return out;
  }

  const ids = (list: readonly number[]) => [...list];

  const ha: PgHaHooks = { fence: null, claims: null };
  const perf = pgPerfdataStore(session);
  /** When (performance.now()) this instance last claimed each outbox row it holds. */
  const claimedAt = new Map<number, number>();
  const store: PostgresStore = {
    session,
    ha,
    // One transaction per result cost a round trip per statement (BEGIN, fence, upserts,
    // COMMIT) for every check; 20 ms gathers a few results at 170 checks/s and delays a
    // notification by no more than that.
    groupCommitMs: o.groupCommitMs ?? 20,
    describe: where,
    loadStatuses: () => loadJson<CheckStatus>('status', 'status'),
    loadDowntimes: () => loadJson<Downtime>('downtime', 'downtime'),
    loadSilences: () => loadJson<Silence>('silence', 'silence'),
    commit: async (change: StoreChange) => {
      const plan = ha.fence ? ha.fence(change) : null;
      const { sql, params } = commitStatement(change, plan, now());
      const extra = (change.downtimes?.size ?? 0) + (change.silences?.size ?? 0);
      // The usual change (results, their history and notifications) is one statement: its own
      // transaction, one round trip, where BEGIN, fence, upserts and COMMIT were four or more.
      const held = extra
        ? await session.tx(async (c) => {
            const h = heldOf(sql ? (await c.query(sql, params)).rows : [], plan);
            await writeDowntimesAndSilences(c, change, plan, h);
            return h;
          })
        : sql
          ? heldOf((await session.run((c) => c.query(sql, params))).rows, plan)
          : new Set<number>();
      plan?.done(held, change);
    },
    forget: (keys) =>
      session.tx(async (c) => {
        await c.query('DELETE FROM status WHERE key = ANY($1::text[])', [[...keys]]);
        await c.query('DELETE FROM downtime WHERE key = ANY($1::text[])', [[...keys]]);
      }),
    async history(q) {
      const where: string[] = [];
      const params: (string | number)[] = [];
      if (q.key !== undefined) {
        params.push(q.key);
        where.push(`key = $${params.length}`);
      } else if (q.prefix !== undefined) {
        params.push(q.prefix, `${q.prefix.replace(/[\\%_]/g, (ch) => `\\${ch}`)}/%`);
        where.push(`(key = $${params.length - 1} OR key LIKE $${params.length})`);
      }
      if (q.before !== undefined) {
        params.push(q.before);
        where.push(`at < $${params.length}`);
      }
      params.push(q.limit);
      const sql = `SELECT * FROM history ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at DESC, id DESC LIMIT $${params.length}`;
      const rows = (await session.run((c) => c.query(sql, params))).rows as { key: string; at: number; type: string; state: number; state_type: string; attempt: number; output: string; detail: string | null }[];
      return rows.map((r): HistoryEvent => ({ key: r.key, at: r.at, type: r.type as HistoryEvent['type'], state: r.state, stateType: r.state_type as HistoryEvent['stateType'], attempt: r.attempt, output: r.output, detail: r.detail ?? undefined }));
    },
    async pendingOutbox(limit) {
      const cl = ha.claims;
      const rows = (
        cl
          ? await session.run((c) =>
              c.query(
                // Per object and contact in order: a row waits while an earlier one of the same
                // object, contact and channel is still pending under another instance's claim
                // (that one sends it first, or its claim runs out and the rows come here together),
                // so a RECOVERY never overtakes its PROBLEM across instances.
                `UPDATE outbox o SET claimed_by = $1, claim_until = now() + make_interval(secs => $2)
                 FROM (SELECT id FROM outbox p WHERE status = 'pending' AND (claim_until IS NULL OR claim_until < now() OR claimed_by = $1)
                         AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.status = 'pending' AND e.id < p.id AND e.obj_key = p.obj_key
                                           AND e.contact = p.contact AND e.channel = p.channel AND e.claimed_by <> $1 AND e.claim_until >= now())
                       ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) f
                 WHERE o.id = f.id RETURNING o.*`,
                [cl.owner, cl.ttlS, limit + unreadable.size],
              ),
            )
          : await session.run((c) => c.query(`SELECT * FROM outbox WHERE status = 'pending' ORDER BY id LIMIT $1`, [limit + unreadable.size]))
      ).rows as OutboxDbRow[];
      if (cl) {
        const t = performance.now();
        claimedAt.clear();
        for (const r of rows) claimedAt.set(Number(r.id), t);
      }
      rows.sort((a, b) => a.id - b.id);
      const out: OutboxRow[] = [];
      for (const r of rows) {
        if (unreadable.has(r.id)) continue;
        try {
          out.push(toRow(r));
        } catch (e) {
          const why = `unreadable: ${reason(e)}`;
          unreadable.add(r.id);
          try {
            await session.run((c) => c.query(`UPDATE outbox SET status = 'quarantined', last_error = $1 WHERE id = $2`, [why.slice(0, 1000), r.id]));
            log('error', `${where}: outbox row ${r.id} quarantined (${why}); the other notifications go on`);
          } catch (e2) {
            log('error', `${where}: outbox row ${r.id} is ${why}; skipped (marking it quarantined failed too: ${reason(e2)})`);
          }
          continue;
        }
        if (out.length >= limit) break;
      }
      return out;
    },
    holdsClaim(list) {
      const cl = ha.claims;
      if (!cl) return true;
      // The claim runs out at claim_until by the database clock; by ours, a margin before it.
      const usable = cl.ttlS * 1000 - Math.min(5000, (cl.ttlS * 1000) / 3);
      const now = performance.now();
      return list.every((id) => {
        const t = claimedAt.get(id);
        return t !== undefined && now - t < usable;
      });
    },
    markAttempt: async (list, messageId, at) => {
      const cl = ha.claims;
      if (!cl) {
        await session.run((c) => c.query(`UPDATE outbox SET attempt_at = $1, attempt_message_id = $2 WHERE id = ANY($3::bigint[]) AND status = 'pending'`, [at, messageId, ids(list)]));
        return;
      }
      // Only while this instance still holds the claim: one that was paused past it sends nothing.
      await session.tx(async (c) => {
        const r = await c.query(`UPDATE outbox SET attempt_at = $1, attempt_message_id = $2 WHERE id = ANY($3::bigint[]) AND status = 'pending' AND claimed_by = $4 AND claim_until > now()`, [at, messageId, ids(list), cl.owner]);
        // Rolled back (the throw): nothing of a partly lost claim is marked.
        if (r.rowCount !== list.length) throw new ClaimLost(`outbox rows ${list.join(', ')} are no longer claimed by ${cl.owner}: left to the instance that holds them`);
      });
    },
    markSent: async (list, at, providerId?: string) => {
      await session.run((c) => c.query(`UPDATE outbox SET status = 'sent', sent_at = $1, attempts = attempts + 1, last_error = NULL, provider_id = coalesce($3, provider_id) WHERE id = ANY($2::bigint[]) AND status = 'pending'`, [at, ids(list), providerId?.slice(0, 500) ?? null]));
    },
    markFailed: async (list, error, next) => {
      await session.run((c) =>
        c.query(`UPDATE outbox SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2, attempt_at = NULL, attempt_message_id = NULL WHERE id = ANY($3::bigint[]) AND status = 'pending'`, [error.slice(0, 1000), next, ids(list)]),
      );
    },
    async outboxCounts() {
      const rows = (await session.run((c) => c.query('SELECT status, count(*) AS n FROM outbox GROUP BY status'))).rows as { status: string; n: number }[];
      return { pending: rows.find((r) => r.status === 'pending')?.n ?? 0, sent: rows.find((r) => r.status === 'sent')?.n ?? 0, quarantined: rows.find((r) => r.status === 'quarantined')?.n ?? 0 };
    },
    recentOutbox: async (limit) =>
      ((await session.run((c) => c.query('SELECT * FROM outbox ORDER BY id DESC LIMIT $1', [limit]))).rows as OutboxDbRow[]).flatMap((r) => {
        try {
          return [toRow(r)];
        } catch {
          return [];
        }
      }),
    nextOutboxDue: async () => ((await session.run((c) => c.query(`SELECT min(next_attempt_at) AS t FROM outbox WHERE status = 'pending'`))).rows[0] as { t: number | null }).t,
    getMeta: async (key) => ((await session.run((c) => c.query('SELECT value FROM meta WHERE key = $1', [key]))).rows[0] as { value: string } | undefined)?.value ?? null,
    setMeta: async (key, value) => {
      await session.run((c) => c.query('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]));
    },
    perfdata: perf,
    // Bounded: a stop must not wait minutes for a server that does not answer (the caller waited for the writes).
    close: async () => {
      // the perfdata gathered for the next batch go first (bounded like the rest)
      void perf.flushPending().catch(() => {});
      await session.close(1000);
    },
  };
  return store;
}

/** The shards the commit found held (its statement's answer); every shard without a plan. */
function heldOf(rows: readonly unknown[], plan: FencePlan | null): Set<number> {
  if (!plan) return new Set();
  const r = rows[0] as { held?: number[] | null } | undefined;
  return new Set(r?.held ?? []);
}

/**
 * One statement for the statuses, history events and notifications of a change (data-modifying
 * CTEs share one snapshot and one implicit transaction): with a fence plan it first locks the
 * asked shards still held (`held`) and each INSERT keeps only the rows of those shards (or of
 * none). Answers one row, `held`, the shards found held. Null when there is nothing to write
 * and nothing to check.
 */
export function commitStatement(change: StoreChange, plan: FencePlan | null, createdAt: number): { sql: string | null; params: unknown[] } {
  const params: unknown[] = [];
  const p = (v: unknown): string => {
    params.push(v);
    return `$${params.length}`;
  };
  const ctes: string[] = [];
  const fenced = plan !== null;
  if (plan) {
    ctes.push(
      `held AS (SELECT s.shard FROM hawatch_shards s JOIN unnest(${p(plan.asked.map(([sh]) => sh))}::int[], ${p(plan.asked.map(([, e]) => e))}::bigint[]) AS w(shard, epoch) ON s.shard = w.shard AND s.epoch = w.epoch
        WHERE s.owner = ${p(plan.owner)} AND s.expires_at > now() FOR SHARE OF s)`,
    );
  }
  const shards = (keys: readonly string[]): string => p(keys.map((k) => plan!.shardOf(k)));
  const keep = fenced ? ' WHERE sh = -1 OR sh IN (SELECT shard FROM held)' : '';
  // One row per key (an upsert may not touch a row twice in one statement).
  const statuses = [...new Map(change.statuses.map((s) => [s.key, s])).values()];
  if (statuses.length) {
    const keys = statuses.map((s) => s.key);
    ctes.push(
      `st AS (INSERT INTO status (key, json) SELECT k, j FROM unnest(${p(keys)}::text[], ${p(statuses.map((s) => JSON.stringify(s)))}::text[]${fenced ? `, ${shards(keys)}::int[]` : ''}) AS x(k, j${fenced ? ', sh' : ''})${keep}
        ON CONFLICT (key) DO UPDATE SET json = excluded.json RETURNING 1)`,
    );
  }
  const h = change.history;
  if (h.length) {
    ctes.push(
      `hi AS (INSERT INTO history (key, at, type, state, state_type, attempt, output, detail)
        SELECT k, a, t, s, st, at2, o, d FROM unnest(${p(h.map((e) => e.key))}::text[], ${p(h.map((e) => e.at))}::bigint[], ${p(h.map((e) => e.type))}::text[], ${p(h.map((e) => e.state))}::int[], ${p(h.map((e) => e.stateType))}::text[], ${p(h.map((e) => e.attempt))}::int[], ${p(h.map((e) => e.output))}::text[], ${p(h.map((e) => e.detail ?? null))}::text[]${fenced ? `, ${shards(h.map((e) => e.key))}::int[]` : ''})
        WITH ORDINALITY AS x(k, a, t, s, st, at2, o, d${fenced ? ', sh' : ''}, n)${keep} ORDER BY n RETURNING 1)`,
    );
  }
  const ob = change.outbox;
  if (ob.length) {
    // Ids follow the order of the rows (the dispatcher delivers in id order).
    // The once-rule (ha/schema.ts): a notification of a state change already in the outbox is not created again.
    ctes.push(
      `ob AS (INSERT INTO outbox (created_at, contact, channel, notification, next_attempt_at, obj_key, change_id)
        SELECT ${p(createdAt)}::bigint, ct, ch, n, nb, k, ci FROM unnest(${p(ob.map((r) => r.contact))}::text[], ${p(ob.map((r) => r.channel))}::text[], ${p(ob.map((r) => JSON.stringify(r.notification)))}::text[], ${p(ob.map((r) => r.notBefore))}::bigint[], ${p(ob.map((r) => r.notification.key))}::text[], ${p(ob.map((r) => changeIdOf(r.notification)))}::text[]${fenced ? `, ${shards(ob.map((r) => r.notification.key))}::int[]` : ''})
        WITH ORDINALITY AS x(ct, ch, n, nb, k, ci${fenced ? ', sh' : ''}, o)${keep} ORDER BY o
        ON CONFLICT DO NOTHING RETURNING 1)`,
    );
  }
  if (!ctes.length) return { sql: null, params };
  return { sql: `WITH ${ctes.join(',\n')}\nSELECT ${fenced ? 'ARRAY(SELECT shard FROM held)' : 'NULL::int[]'} AS held`, params };
}

/** Downtimes and silences (rare: operator actions), in the commit's transaction after its statement, fenced like its rows. */
async function writeDowntimesAndSilences(c: pg.Client, change: StoreChange, plan: FencePlan | null, held: ReadonlySet<number>): Promise<void> {
  const ok = (key: string): boolean => {
    if (!plan) return true;
    const sh = plan.shardOf(key);
    return sh === -1 || held.has(sh);
  };
  if (change.downtimes?.size) {
    const keys = [...change.downtimes.keys()].filter(ok);
    if (keys.length) {
      await c.query('DELETE FROM downtime WHERE key = ANY($1::text[])', [keys]);
      const all = [...new Map(keys.flatMap((k) => change.downtimes!.get(k) ?? []).map((d) => [d.id, d])).values()];
      if (all.length) await c.query('INSERT INTO downtime (id, key, json) SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT (id) DO UPDATE SET key = excluded.key, json = excluded.json', [all.map((d) => d.id), all.map((d) => d.key), all.map((d) => JSON.stringify(d))]);
    }
  }
  if (change.silences?.size) {
    const del = [...change.silences].filter(([, s]) => s === null).map(([id]) => id);
    const put = [...change.silences].filter((e): e is [string, Silence] => e[1] !== null);
    if (del.length) await c.query('DELETE FROM silence WHERE id = ANY($1::text[])', [del]);
    if (put.length) await c.query('INSERT INTO silence (id, json) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (id) DO UPDATE SET json = excluded.json', [put.map(([id]) => id), put.map(([, s]) => JSON.stringify(s))]);
  }
}
