import type { Silence } from '../notify/silences.ts';
import type { CheckStatus, Downtime, HistoryEvent, NotificationIntent } from '../state/types.ts';
import type { PerfdataStore } from './perfdata.ts';

export type Channel = 'email' | 'sms';

export interface OutboxInsert {
  readonly contact: string;
  readonly channel: Channel;
  readonly notification: NotificationIntent;
  /** Not delivered before this time (grouping window). */
  readonly notBefore: number;
}

export interface OutboxRow extends OutboxInsert {
  readonly id: number;
  readonly createdAt: number;
  readonly attempts: number;
  readonly nextAttemptAt: number;
  readonly status: 'pending' | 'sent' | 'quarantined';
  readonly sentAt: number | null;
  readonly lastError: string | null;
  /**
   * Set just before a send starts, with the Message-ID used: a pending row that has it was
   * perhaps delivered by a process that died before recording it, so it is resent with the
   * same Message-ID and marked as a possible duplicate.
   */
  readonly attempt: { readonly at: number; readonly messageId: string } | null;
}

/** One state change, written atomically: the transactional outbox. */
export interface StoreChange {
  readonly statuses: readonly CheckStatus[];
  /** Replace all downtimes of these keys. */
  readonly downtimes?: ReadonlyMap<string, readonly Downtime[]> | undefined;
  /** Silences to write (by id), or to delete (null). */
  readonly silences?: ReadonlyMap<string, Silence | null> | undefined;
  readonly history: readonly HistoryEvent[];
  readonly outbox: readonly OutboxInsert[];
}

export interface HistoryQuery {
  readonly key?: string | undefined;
  readonly prefix?: string | undefined;
  readonly limit: number;
  readonly before?: number | undefined;
}

export interface Store {
  loadStatuses(): CheckStatus[];
  loadDowntimes(): Downtime[];
  loadSilences(): Silence[];
  commit(change: StoreChange): void;
  /** Removes objects that left the inventory (statuses and downtimes). */
  forget(keys: readonly string[]): void;
  history(q: HistoryQuery): HistoryEvent[];
  /**
   * The oldest pending rows, in creation order, due or not (the dispatcher keeps the order
   * per contact and object). A row that cannot be decoded is quarantined (status
   * 'quarantined', reported through the store's log) and left out.
   */
  pendingOutbox(limit: number): OutboxRow[];
  /** Records that these rows are being sent now with this Message-ID (before the send). */
  markAttempt(ids: readonly number[], messageId: string, now: number): void;
  /** providerId: the channel's answer (SMTP queue id), kept where the store has room for it (PostgreSQL). */
  markSent(ids: readonly number[], now: number, providerId?: string): void;
  markFailed(ids: readonly number[], error: string, nextAttemptAt: number): void;
  outboxCounts(): { pending: number; sent: number; quarantined: number };
  recentOutbox(limit: number): OutboxRow[];
  nextOutboxDue(): number | null;
  getMeta(key: string): string | null;
  setMeta(key: string, value: string): void;
  /** Perfdata history (store/perfdata.ts), in the same database. */
  readonly perfdata: PerfdataStore;
  close(): void;
}

/**
 * A store whose calls may answer later (PostgreSQL): every method of Store, returning its
 * value or a promise of it. The SQLite store is one as it is (its answers are synchronous),
 * so the server's callers await (reads) or check for a promise (the monitor's write path,
 * server/core/write-queue.ts) and the SQLite server stays synchronous and fast.
 */
export type Awaitable<T> = T | Promise<T>;
type Asyncify<T> = { readonly [K in keyof T]: T[K] extends (...a: infer A) => infer R ? (...a: A) => Awaitable<R> : T[K] };
export type AnyStore = Asyncify<Omit<Store, 'perfdata' | 'close'>> & {
  readonly perfdata: Asyncify<PerfdataStore>;
  close(): Awaitable<void>;
  /** Where the data lives, for log lines (a file, or a URL without its password). */
  readonly describe?: string;
  /**
   * Several instances: whether this instance still holds its claims on these outbox rows by
   * its own monotonic clock (claimed less than the claim time minus a margin ago). Asked right
   * before a send, after the attempt mark: an instance paused between the two sends nothing.
   */
  holdsClaim?(ids: readonly number[]): boolean;
  /**
   * A store that answers later (over the network): the monitor gathers the changes of this
   * many milliseconds into one transaction instead of one per check result.
   */
  readonly groupCommitMs?: number;
};
