import type { CheckStatus, Downtime, HistoryEvent, NotificationIntent } from '../state/types.ts';

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
  readonly status: 'pending' | 'sent';
  readonly sentAt: number | null;
  readonly lastError: string | null;
}

/** One state change, written atomically: the transactional outbox. */
export interface StoreChange {
  readonly statuses: readonly CheckStatus[];
  /** Replace all downtimes of these keys. */
  readonly downtimes?: ReadonlyMap<string, readonly Downtime[]> | undefined;
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
  commit(change: StoreChange): void;
  /** Removes objects that left the inventory (statuses and downtimes). */
  forget(keys: readonly string[]): void;
  history(q: HistoryQuery): HistoryEvent[];
  /** Pending rows that are due now; with all pending rows of the same contact+channel due within `lookaheadMs`. */
  dueOutbox(now: number, lookaheadMs: number, limit: number): OutboxRow[];
  markSent(ids: readonly number[], now: number): void;
  markFailed(ids: readonly number[], error: string, nextAttemptAt: number): void;
  outboxCounts(): { pending: number; sent: number };
  recentOutbox(limit: number): OutboxRow[];
  nextOutboxDue(): number | null;
  getMeta(key: string): string | null;
  setMeta(key: string, value: string): void;
  close(): void;
}
