/**
 * Whether the store can be written. Every store write in the server reports here: a
 * failure makes the server degraded (healthz 503, a banner, a metric, one alert to the
 * contacts once it lasts), the next success clears it. Logging is bounded: one line when
 * the condition starts, then at most one a minute while it lasts, one when it ends.
 */
import type { Clock } from '../state/clock.ts';
import { plainText } from './text.ts';

export interface Degraded {
  readonly since: number;
  /** What failed, for people: plain text (no shell or macro characters). */
  readonly message: string;
}

export type HealthLog = (level: 'info' | 'warn' | 'error', msg: string) => void;

const LOG_EVERY_MS = 60_000;

export function errorReason(e: unknown): string {
  const err = e as { code?: string; message?: string };
  const msg = String(err?.message ?? e).split('\n')[0] ?? '';
  return plainText(err?.code && !msg.includes(err.code) ? `${err.code} ${msg}` : msg);
}

export class StoreHealth {
  private state: Degraded | null = null;
  private lastLog = 0;
  private failures = 0;
  private readonly listeners = new Set<(d: Degraded | null) => void>();
  private readonly clock: Clock;
  private readonly log: HealthLog;
  private readonly what: string;

  constructor(clock: Clock, log: HealthLog = () => {}, what = 'the database') {
    this.clock = clock;
    this.log = log;
    this.what = what;
  }

  get degraded(): Degraded | null {
    return this.state;
  }

  /** Consecutive failures since the last success (drives the retry backoff). */
  get failureCount(): number {
    return this.failures;
  }

  /** Delay before the next retry after a store failure: 1 s doubling to 60 s. */
  backoffMs(): number {
    return Math.min(60_000, 1000 * 2 ** Math.max(0, Math.min(6, this.failures - 1)));
  }

  on(l: (d: Degraded | null) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  fail(op: string, e: unknown): void {
    const now = this.clock.now();
    this.failures++;
    const code = String((e as { code?: string })?.code ?? '');
    const hint = code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB'
      ? ', the file is damaged: restore it from a backup or rebuild it with sqlite3 .recover'
      : code === 'SQLITE_FULL' || code === 'ENOSPC'
        ? ', free space on its filesystem'
        : '';
    const message = plainText(`${this.what} cannot be written (${op}: ${errorReason(e)})${hint}. State changes and notifications are held in memory and retried`);
    const first = this.state === null;
    this.state = { since: this.state?.since ?? now, message };
    if (first || now - this.lastLog >= LOG_EVERY_MS) {
      this.lastLog = now;
      this.log('error', `store degraded: ${message}${first ? '' : ` (failing for ${Math.round((now - this.state.since) / 1000)} s)`}`);
    }
    if (first) this.emit();
  }

  ok(): void {
    this.failures = 0;
    if (this.state === null) return;
    const secs = Math.round((this.clock.now() - this.state.since) / 1000);
    this.state = null;
    this.log('info', `store writable again after ${secs} s`);
    this.emit();
  }

  private emit(): void {
    for (const l of this.listeners) {
      try {
        l(this.state);
      } catch {
        /* a listener's failure is its own */
      }
    }
  }
}
