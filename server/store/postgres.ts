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
 * Several instances (ha/coordinator.ts): `fence` runs first in every commit's transaction and
 * returns the part of the change this instance may still write (its shards' leases checked
 * in the same transaction); `claims` makes the outbox reads claims (FOR UPDATE SKIP LOCKED,
 * held until an expiry), so every instance may deliver and no row goes out twice.
 */
export interface PgHaHooks {
  fence: ((c: pg.Client, change: StoreChange) => Promise<StoreChange>) | null;
  claims: { readonly owner: string; readonly ttlS: number } | null;
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
    commit: (change: StoreChange) =>
      session.tx(async (c: pg.Client) => {
        if (ha.fence) change = await ha.fence(c, change);
        // One row per key (an upsert may not touch a row twice in one statement).
        const statuses = [...new Map(change.statuses.map((s) => [s.key, s])).values()];
        if (statuses.length) {
          await c.query('INSERT INTO status (key, json) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (key) DO UPDATE SET json = excluded.json', [statuses.map((s) => s.key), statuses.map((s) => JSON.stringify(s))]);
        }
        if (change.downtimes?.size) {
          const keys = [...change.downtimes.keys()];
          await c.query('DELETE FROM downtime WHERE key = ANY($1::text[])', [keys]);
          const all = [...new Map([...change.downtimes.values()].flat().map((d) => [d.id, d])).values()];
          if (all.length) await c.query('INSERT INTO downtime (id, key, json) SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT (id) DO UPDATE SET key = excluded.key, json = excluded.json', [all.map((d) => d.id), all.map((d) => d.key), all.map((d) => JSON.stringify(d))]);
        }
        if (change.silences?.size) {
          const del = [...change.silences].filter(([, s]) => s === null).map(([id]) => id);
          const put = [...change.silences].filter((e): e is [string, Silence] => e[1] !== null);
          if (del.length) await c.query('DELETE FROM silence WHERE id = ANY($1::text[])', [del]);
          if (put.length) await c.query('INSERT INTO silence (id, json) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (id) DO UPDATE SET json = excluded.json', [put.map(([id]) => id), put.map(([, s]) => JSON.stringify(s))]);
        }
        const h = change.history;
        if (h.length) {
          await c.query(
            `INSERT INTO history (key, at, type, state, state_type, attempt, output, detail)
             SELECT k, a, t, s, st, at2, o, d FROM unnest($1::text[], $2::bigint[], $3::text[], $4::int[], $5::text[], $6::int[], $7::text[], $8::text[]) WITH ORDINALITY AS x(k, a, t, s, st, at2, o, d, n) ORDER BY n`,
            [h.map((e) => e.key), h.map((e) => e.at), h.map((e) => e.type), h.map((e) => e.state), h.map((e) => e.stateType), h.map((e) => e.attempt), h.map((e) => e.output), h.map((e) => e.detail ?? null)],
          );
        }
        const ob = change.outbox;
        if (ob.length) {
          // Ids follow the order of the rows (the dispatcher delivers in id order).
          // The once-rule (ha/schema.ts): a notification of a state change already in the outbox is not created again.
          await c.query(
            `INSERT INTO outbox (created_at, contact, channel, notification, next_attempt_at, obj_key, change_id)
             SELECT $1, ct, ch, n, nb, k, ci FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[]) WITH ORDINALITY AS x(ct, ch, n, nb, k, ci, o) ORDER BY o
             ON CONFLICT DO NOTHING`,
            [now(), ob.map((r) => r.contact), ob.map((r) => r.channel), ob.map((r) => JSON.stringify(r.notification)), ob.map((r) => r.notBefore), ob.map((r) => r.notification.key), ob.map((r) => changeIdOf(r.notification))],
          );
        }
      }),
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
    perfdata: pgPerfdataStore(session),
    // Bounded: a stop must not wait minutes for a server that does not answer (the caller waited for the writes).
    close: () => session.close(1000),
  };
  return store;
}
