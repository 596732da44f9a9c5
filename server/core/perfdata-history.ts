/**
 * Records every numeric perfdata value of each check result into the store's perfdata
 * history, and expires old rows on the server's clock. It listens to the monitor's status
 * events (no hook inside the state machine): a status whose lastCheck moved is a new result.
 *
 * A store error here never reaches the check result: the state change was already written by
 * the monitor in its own transaction. The values of that result are dropped (a gap in the
 * graph), counted, and logged once until writing works again.
 */
import { parsePerfdata } from '../../nagios/perfdata.ts';
import type { Clock, TimerHandle } from '../state/clock.ts';
import type { CheckStatus } from '../state/types.ts';
import { DEFAULT_RETENTION, type PerfRetention, type PerfSample } from '../store/perfdata.ts';
import type { AnyStore } from '../store/types.ts';

export interface PerfdataSource {
  on(listener: (e: { type: string; keys?: readonly string[] }) => void): () => void;
  status(key: string): CheckStatus | undefined;
  /**
   * Several instances: whether this instance runs the object. The others' results reach this
   * instance too (the read view) and are theirs to record: recording them here wrote every
   * value once per instance.
   */
  mine?(key: string): boolean;
}

export interface PerfdataRecorderOptions {
  readonly source: PerfdataSource;
  /** Synchronous (SQLite) or answering later (PostgreSQL): both are handled. */
  readonly store: () => AnyStore['perfdata'];
  readonly clock: Clock;
  readonly log?: (level: 'warn' | 'error' | 'info', msg: string) => void;
  readonly retention?: PerfRetention;
  /** How often expired rows are deleted (default 10 min). */
  readonly expireEveryMs?: number;
  /** Series per slice of the expiry job (default 100): the event loop runs between slices. */
  readonly expireSlice?: number;
}

/** The numeric values of a perfdata string (U and malformed items left out). */
export function samplesOf(perfdata: string): PerfSample[] {
  const out: PerfSample[] = [];
  for (const p of parsePerfdata(perfdata).items) {
    if (p.value === 'U' || !Number.isFinite(p.value)) continue;
    out.push({ label: p.label, value: p.value, unit: p.uom, warn: p.warning, crit: p.critical, min: p.min, max: p.max });
  }
  return out;
}

export class PerfdataRecorder {
  readonly stats = { results: 0, values: 0, dropped: 0 };
  private readonly lastSeen = new Map<string, number>();
  private failing = false;
  private off: (() => void) | null = null;
  private timer: TimerHandle | null = null;
  private sliceTimer: TimerHandle | null = null;
  private stopped = false;

  private readonly o: PerfdataRecorderOptions;
  constructor(o: PerfdataRecorderOptions) {
    this.o = o;
  }

  /** Records results from now on. */
  listen(): void {
    this.off ??= this.o.source.on((e) => {
      if (e.type === 'status' && e.keys) for (const k of e.keys) this.observe(k);
    });
  }

  /** Records and expires periodically. */
  start(): void {
    this.stopped = false;
    this.listen();
    if (!this.timer) this.schedule();
  }

  stop(): void {
    this.off?.();
    this.off = null;
    this.stopped = true;
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    if (this.sliceTimer) this.o.clock.clearTimeout(this.sliceTimer);
    this.timer = null;
    this.sliceTimer = null;
  }

  /** Records the status of `key` if it carries a result not recorded yet. */
  observe(key: string): void {
    if (this.o.source.mine && !this.o.source.mine(key)) return;
    const s = this.o.source.status(key);
    if (!s || s.lastCheck === null || !s.perfdata) return;
    if (this.lastSeen.get(key) === s.lastCheck) return;
    this.lastSeen.set(key, s.lastCheck);
    const samples = samplesOf(s.perfdata);
    if (!samples.length) return;
    const ok = () => {
      this.stats.results++;
      this.stats.values += samples.length;
      if (this.failing) this.o.log?.('info', 'perfdata history: writing works again');
      this.failing = false;
    };
    const failed = (e: unknown) => {
      this.stats.dropped += samples.length;
      if (!this.failing) this.o.log?.('error', `perfdata history: values of ${key} not stored (${String((e as Error).message ?? e).split('\n')[0]}): graphs show a gap until the database can be written; check results are not affected`);
      this.failing = true;
    };
    try {
      const r = this.o.store().record(key, s.lastCheck, samples);
      if (r instanceof Promise) r.then(ok, failed);
      else ok();
    } catch (e) {
      failed(e);
    }
  }

  /**
   * Deletes the rows past their retention, in slices of series with a timer between them: in
   * one go the job held the event loop about a second per 1,000 services at steady state.
   * A store that answers with a promise (PostgreSQL) deletes in the database in one call.
   * `done` runs after the last slice (or a failure).
   */
  expire(done?: () => void): void {
    const now = this.o.clock.now();
    const limit = this.o.expireSlice ?? 100;
    const failed = (e: unknown): void =>
      this.o.log?.('warn', `perfdata history: deleting old rows failed (${String((e as Error).message ?? e).split('\n')[0]}): retried in ${Math.round((this.o.expireEveryMs ?? 600_000) / 60_000)} min`);
    const finish = (): void => {
      this.sliceTimer = null;
      done?.();
    };
    const slice = (after: number): void => {
      let r: ReturnType<ReturnType<typeof this.o.store>['expire']>;
      try {
        r = this.o.store().expire(now, this.o.retention ?? DEFAULT_RETENTION, { after, limit });
      } catch (e) {
        failed(e);
        finish();
        return;
      }
      if (r instanceof Promise) {
        r.then(finish, (e: unknown) => {
          failed(e);
          finish();
        });
        return;
      }
      const next = r?.next;
      if (next === null || next === undefined || this.stopped) {
        finish();
        return;
      }
      this.sliceTimer = this.o.clock.setTimeout(() => slice(next), 0);
    };
    slice(-1);
  }

  private schedule(): void {
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = null;
      this.expire(() => {
        if (!this.stopped) this.schedule();
      });
    }, this.o.expireEveryMs ?? 600_000);
  }
}
