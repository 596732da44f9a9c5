/**
 * The monitor: owns the live state of every host and service, applies check results and
 * operator commands through the pure state machine, and writes each change with its
 * notifications in ONE store transaction (the transactional outbox). Everything else
 * (scheduler, notifier, HTTP API) talks to it through these methods.
 */
import { randomUUID } from 'node:crypto';
import type { CheckOutcome } from '../executors/types.ts';
import type { ClusterRuleConfig, ContactConfig, HostConfig, Inventory, ServiceConfig } from '../inventory/types.ts';
import type { Clock } from '../state/clock.ts';
import { evaluateClusterRule, failoverText } from '../state/cluster.ts';
import {
  acknowledge as ackStatus,
  advanceDowntimes,
  applyResult,
  cancelDowntime as cancelDt,
  initialStatus,
  notifyIfDue,
  notifyProblem,
  problemNotificationBlocker,
  removeAcknowledgement,
  staleness,
  staleResult,
  type HostContext,
} from '../state/machine.ts';
import {
  hostStateFromPlugin,
  optionForState,
  type CheckPolicy,
  type CheckStatus,
  type Downtime,
  type HistoryEvent,
  type NotificationGate,
  type NotificationIntent,
  type ResultInput,
  type Transition,
} from '../state/types.ts';
import type { AnyStore, OutboxInsert, StoreChange } from '../store/types.ts';
import type { TimerHandle } from '../state/clock.ts';
import { StoreHealth } from './health.ts';
import { RuleHoldDown } from '../state/rules.ts';
import { ruleMemberBlocker } from '../state/rule-members.ts';
import { ConfirmTracker } from '../state/confirm.ts';
import { checkPeriodWait, contactPeriodBlocker, inCheckPeriod, notificationGate, recipientsOf, type TimingContext } from '../notify/escalations.ts';
import { processTimeZone, TWENTY_FOUR_SEVEN } from '../notify/timeperiods.ts';
import type { ObjectTiming } from '../inventory/types.ts';
import { activeInhibitor, foldNote, inhibitorsByObject, resolveInhibitions } from '../state/inhibition.ts';
import { isActive, matcherProblem, silenceReason, silencesFor, type Silence, type SilenceMatchers, type SilenceTarget } from '../notify/silences.ts';
import { childrenIndex, problemHostState, rechecksAfterHostChange } from '../state/reachability.ts';
import { dependencyBlocker, dependencyIndex, type DependencyConfig } from '../state/dependencies.ts';
import { HA_KEY } from '../ha/config.ts';

export type ObjectConfig =
  | { readonly kind: 'host'; readonly key: string; readonly host: HostConfig }
  | { readonly kind: 'service'; readonly key: string; readonly service: ServiceConfig }
  | { readonly kind: 'cluster'; readonly key: string; readonly rule: ClusterRuleConfig };

export type MonitorEvent =
  | { readonly type: 'status'; readonly keys: readonly string[] }
  | { readonly type: 'notifications'; readonly count: number }
  | { readonly type: 'reload' };

export class NotFoundError extends Error {
  override name = 'NotFoundError';
}
export class ConflictError extends Error {
  override name = 'ConflictError';
}

export interface DowntimeRequest {
  readonly key: string;
  /** For a host: also every service of it. */
  readonly includeServices: boolean;
  readonly fixed: boolean;
  readonly start: number;
  readonly end: number;
  readonly durationMs: number;
  readonly author: string;
  readonly comment: string;
}

export interface SilenceRequest {
  readonly matchers: SilenceMatchers;
  readonly author: string;
  readonly comment: string;
  readonly start: number;
  readonly end: number;
}

/** Notification types a silence mutes (as a downtime does); only PROBLEM is held and sent later. */
const SILENCEABLE = new Set<NotificationIntent['type']>(['PROBLEM', 'RECOVERY', 'FLAPPINGSTART', 'FLAPPINGSTOP']);

interface Pending {
  statuses: Map<string, CheckStatus>;
  downtimes: Map<string, Downtime[]>;
  silences: Map<string, Silence | null>;
  history: HistoryEvent[];
  notifications: NotificationIntent[];
}

export class Monitor {
  private inv: Inventory;
  private readonly store: AnyStore;
  private readonly clock: Clock;
  private readonly statuses = new Map<string, CheckStatus>();
  private downtimesByKey = new Map<string, Downtime[]>();
  private objectsByKey = new Map<string, ObjectConfig>();
  private rulesByMember = new Map<string, ClusterRuleConfig[]>();
  private readonly holdDown = new RuleHoldDown();
  /** Pushed problems waiting for their confirmation (services with `confirm`). */
  readonly confirm = new ConfirmTracker((key) => {
    const o = this.objectsByKey.get(key);
    return o?.kind === 'service' ? o.service.confirm : undefined;
  });
  private readonly silencesById = new Map<string, Silence>();
  /** Per object, the cluster rules that inhibit it (inventory inhibits:). */
  private inhibitorsOf = new Map<string, string[]>();
  /**
   * Objects whose problem notification a silence or an inhibiting rule holds back, with the
   * reason: sent when the reason ends while the problem lasts (like a problem that outlives a
   * Nagios downtime). Rebuilt from the statuses at start.
   */
  private readonly held = new Map<string, string>();
  /** Host parents, their reverse, and dependencies by dependent (reachability, dependencies). */
  private parentsOf = new Map<string, readonly string[]>();
  private childrenOf = new Map<string, string[]>();
  private depsByDependent = new Map<string, DependencyConfig[]>();
  /** Hosts to check at once because a parent or child changed state (drained by tick and the scheduler). */
  private readonly rechecks = new Set<string>();
  /**
   * Per object, until when its check_period is known to stay closed (its next open time):
   * searched once, not on every tick and scheduler wake-up. Cleared on reload.
   */
  private readonly checkClosedUntil = new Map<string, number>();
  /** Why an object's active checks are being skipped (execution dependency), for history and the API. */
  private readonly skipping = new Map<string, string>();
  private readonly listeners = new Set<(e: MonitorEvent) => void>();
  /** Freshness does not count the time the server was not running. */
  private readonly startedAt: number;
  readonly health: StoreHealth;
  /**
   * Changes the store refused (full disk): merged into one, written in order before any
   * later change, retried with backoff. The live state already shows them.
   */
  private unsaved: { statuses: Map<string, CheckStatus>; downtimes: Map<string, readonly Downtime[]>; silences: Map<string, Silence | null>; history: HistoryEvent[]; outbox: OutboxInsert[]; forget: Set<string>; droppedHistory: number } | null = null;
  private retryTimer: TimerHandle | null = null;
  /**
   * The commit in flight on a store that answers later (PostgreSQL; never set on SQLite).
   * Ordering: one commit at a time, in the order changes were made; changes made meanwhile
   * wait in `unsaved` (merged) and go as one commit right after it; a failed commit is put
   * back in front of them (server/README.md, PostgreSQL store).
   */
  private inflight: Promise<void> | null = null;
  /**
   * Several instances (server/ha): the objects this instance runs (its shards); the others are
   * only a read view, kept up to date by observe(). null: one instance, every object is its own.
   */
  private owns: ((key: string) => boolean) | null = null;
  /**
   * Several instances: `maybe(key)` is true for every object this instance may run (a superset
   * of owns, cheap to keep), and `version()` changes whenever that set may have grown. The
   * tick walks only those (re-checking owns): walking all objects twice a second on every
   * instance cost more per own check the more instances there were (bench:ha).
   */
  private scope: { readonly version: () => number; readonly maybe: (key: string) => boolean } | null = null;
  private scoped: { version: number; objects: Map<string, ObjectConfig>; list: ObjectConfig[] } | null = null;
  private ownerHint: (key: string) => string = () => 'another instance';

  /** `loaded`: the stored state read beforehand (a store that answers later); else read here. */
  constructor(inventory: Inventory, store: AnyStore, clock: Clock, health?: StoreHealth, loaded?: StoredState) {
    this.inv = inventory;
    this.store = store;
    this.clock = clock;
    this.health = health ?? new StoreHealth(clock);
    this.startedAt = clock.now();
    const stored = loaded ?? loadStoredNow(store);
    for (const s of stored.statuses) this.statuses.set(s.key, s);
    for (const d of stored.downtimes) this.downtimesByKey.set(d.key, [...(this.downtimesByKey.get(d.key) ?? []), d]);
    for (const s of stored.silences) this.silencesById.set(s.id, s);
    this.index(inventory);
    this.rebuildHeld();
  }

  get inventory(): Inventory {
    return this.inv;
  }

  private index(inv: Inventory): void {
    const objects = new Map<string, ObjectConfig>();
    for (const h of inv.hosts.values()) objects.set(h.name, { kind: 'host', key: h.name, host: h });
    for (const s of inv.services.values()) objects.set(s.key, { kind: 'service', key: s.key, service: s });
    for (const r of inv.clusterRules.values()) objects.set(r.key, { kind: 'cluster', key: r.key, rule: r });
    const rulesByMember = new Map<string, ClusterRuleConfig[]>();
    for (const r of inv.clusterRules.values()) for (const m of r.members) rulesByMember.set(m.key, [...(rulesByMember.get(m.key) ?? []), r]);
    const now = this.clock.now();
    const fresh: CheckStatus[] = [];
    for (const o of objects.values()) {
      if (!this.statuses.has(o.key)) {
        const st = o.kind === 'host'
          ? initialStatus(o.key, 'host', o.key, null, now)
          : initialStatus(o.key, 'service', o.kind === 'service' ? o.service.hostName : o.rule.hostName, o.kind === 'service' ? o.service.name : o.rule.name, now);
        // Hosts without a check (virtual, local, check: none) are UP, as in Nagios, and say so;
        // a passive host waits for its first result.
        const ready = o.kind === 'host' && o.host.check === null && !o.host.passive ? { ...st, checked: true, output: o.host.noCheckNote ?? 'No host check' } : st;
        this.statuses.set(o.key, ready);
        fresh.push(ready);
      } else if (o.kind === 'host' && o.host.check === null && !o.host.passive) {
        // A host whose check was removed (or a status from before host checks said
        // "assumed UP"): UP, and the output says why, not an old DOWN kept forever.
        const s = this.statuses.get(o.key)!;
        const note = o.host.noCheckNote ?? 'No host check';
        if (s.output !== note || s.state !== 0) {
          const up = { ...s, checked: true, state: 0, stateType: 'HARD' as const, attempt: 1, output: note, longOutput: '', perfdata: '', stale: false };
          this.statuses.set(o.key, up);
          fresh.push(up);
        }
      }
    }
    const gone = [...this.statuses.keys()].filter((k) => !objects.has(k));
    for (const k of gone) {
      this.statuses.delete(k);
      this.downtimesByKey.delete(k);
    }
    if (gone.length || fresh.length) this.write({ statuses: fresh, history: [], outbox: [] }, gone);
    this.objectsByKey = objects;
    this.rulesByMember = rulesByMember;
    const named = [...objects.values()].map((o) => ({ key: o.key, hostName: o.kind === 'host' ? o.key : o.kind === 'service' ? o.service.hostName : o.rule.hostName, serviceName: o.kind === 'host' ? null : o.kind === 'service' ? o.service.name : o.rule.name }));
    this.inhibitorsOf = inhibitorsByObject(resolveInhibitions(inv.clusterRules.values(), named));
    this.parentsOf = new Map([...inv.hosts.values()].filter((h) => h.parents?.length).map((h) => [h.name, h.parents ?? []]));
    this.childrenOf = childrenIndex(this.parentsOf);
    this.depsByDependent = dependencyIndex(inv.dependencies ?? []);
    this.holdDown.forget(new Set(inv.clusterRules.keys()));
    this.checkClosedUntil.clear();
  }

  // --- several instances (server/ha/coordinator.ts) ---

  /** Sets which objects this instance runs; the rest it only reads (null: all its own). */
  setOwnership(owns: ((key: string) => boolean) | null, hint?: (key: string) => string, scope?: { readonly version: () => number; readonly maybe: (key: string) => boolean }): void {
    this.owns = owns;
    this.scope = owns ? (scope ?? null) : null;
    this.scoped = null;
    if (hint) this.ownerHint = hint;
  }

  /** True when this instance runs the object (always without server.ha). */
  mine(key: string): boolean {
    return this.owns === null || this.owns(key);
  }

  /** The objects this instance may run (all without a scope); callers still ask mine(). */
  private mayRun(): Iterable<ObjectConfig> {
    const sc = this.scope;
    // re-iterable: the tick walks it twice
    if (!sc) return { [Symbol.iterator]: () => this.objectsByKey.values() };
    const v = sc.version();
    if (this.scoped?.version !== v || this.scoped.objects !== this.objectsByKey) {
      this.scoped = { version: v, objects: this.objectsByKey, list: [...this.objectsByKey.values()].filter((o) => sc.maybe(o.key)) };
    }
    return this.scoped.list;
  }

  /** Operator commands and passive results go to the instance that runs the object: here they would be fenced out. */
  private assertMine(key: string): void {
    if (!this.mine(key)) throw new ConflictError(`${key} is run by ${this.ownerHint(key)}: send this to that instance (GET /api/v1/ha lists them)`);
  }

  /**
   * The read view: statuses written by the other instances (their objects), shown as they
   * are, not written again; the cluster rules this instance runs are judged again on them.
   */
  observe(statuses: readonly CheckStatus[]): void {
    const keys: string[] = [];
    for (const s of statuses) {
      if (this.mine(s.key) || !this.objectsByKey.has(s.key)) continue;
      this.statuses.set(s.key, s);
      keys.push(s.key);
    }
    if (!keys.length) return;
    this.emit({ type: 'status', keys });
    const rules = new Set<ClusterRuleConfig>();
    for (const k of keys) for (const r of this.rulesByMember.get(k) ?? []) if (this.mine(r.key)) rules.add(r);
    if (!rules.size) return;
    const p = this.begin();
    const now = this.clock.now();
    for (const rule of rules) {
      const r = evaluateClusterRule(rule, (k) => this.current(p, k), now);
      if (r) this.applyInto(p, rule.key, r);
    }
    this.finish(p);
  }

  /**
   * A shard taken over: the state its previous owner wrote becomes this instance's (no write:
   * it is what the database holds). Problems due but held back are found again.
   */
  adopt(statuses: readonly CheckStatus[], downtimes: ReadonlyMap<string, readonly Downtime[]>): void {
    for (const s of statuses) if (this.objectsByKey.has(s.key)) this.statuses.set(s.key, s);
    for (const [k, list] of downtimes) {
      if (!this.objectsByKey.has(k)) continue;
      if (list.length) this.downtimesByKey.set(k, [...list]);
      else this.downtimesByKey.delete(k);
    }
    for (const s of statuses) this.skipping.delete(s.key);
    this.rebuildHeld();
    if (statuses.length) this.emit({ type: 'status', keys: statuses.map((s) => s.key) });
  }

  /** A shard lost: what waits to be written of its objects is dropped (the new owner decides now). */
  dropQueued(gone: (key: string) => boolean): number {
    const u = this.unsaved;
    if (!u) return 0;
    let n = 0;
    for (const k of [...u.statuses.keys()]) if (gone(k)) (u.statuses.delete(k), n++);
    for (const k of [...u.downtimes.keys()]) if (gone(k)) u.downtimes.delete(k);
    u.history = u.history.filter((h) => !gone(h.key));
    const before = u.outbox.length;
    u.outbox = u.outbox.filter((r) => r.notification.key === '' || !gone(r.notification.key));
    return n + before - u.outbox.length;
  }

  reload(inv: Inventory): void {
    this.inv = inv;
    this.index(inv);
    this.emit({ type: 'reload' });
  }

  on(listener: (e: MonitorEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: MonitorEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        /* a listener's failure is its own */
      }
    }
  }

  object(key: string): ObjectConfig | undefined {
    return this.objectsByKey.get(key);
  }
  objects(): ObjectConfig[] {
    return [...this.objectsByKey.values()];
  }
  status(key: string): CheckStatus | undefined {
    return this.statuses.get(key);
  }
  allStatuses(): CheckStatus[] {
    return [...this.statuses.values()];
  }
  downtimes(key?: string): Downtime[] {
    if (key !== undefined) return [...(this.downtimesByKey.get(key) ?? [])];
    return [...this.downtimesByKey.values()].flat();
  }

  policyOf(key: string): CheckPolicy {
    const o = this.objectsByKey.get(key);
    if (!o) throw new NotFoundError(`no host or service '${key}' in the inventory`);
    return o.kind === 'host' ? o.host.policy : o.kind === 'service' ? o.service.policy : o.rule.policy;
  }

  private hostContext(hostName: string, pending?: Pending): HostContext {
    const h = pending?.statuses.get(hostName) ?? this.statuses.get(hostName);
    return { problem: !!h && h.checked && h.state !== 0, inDowntime: !!h && h.downtimeDepth > 0, unreachable: !!h && h.checked && h.state === 2 };
  }

  /**
   * What may hold an object's problem notifications besides its own status: its host's state
   * (services) and its notification dependency. One place for results, the tick, the release
   * of held problems and the start, so none of them can skip a rule the others apply.
   */
  private notifyContext(s: CheckStatus, p?: Pending): HostContext {
    const host = s.kind === 'service' ? this.hostContext(s.hostName, p) : { problem: false, inDowntime: false };
    const o = this.objectsByKey.get(s.key);
    // A rule over members the admin node cannot reach is held like their services (server/state/rule-members.ts).
    const members = o?.kind === 'cluster' ? ruleMemberBlocker(o.rule, this.lookup(p)) : null;
    return { ...host, dependency: dependencyBlocker(s.key, 'notification', this.depsByDependent, this.lookup(p)) ?? members };
  }

  private lookup(p?: Pending): (k: string) => CheckStatus | undefined {
    return (k) => p?.statuses.get(k) ?? this.statuses.get(k);
  }

  /** Why a notification dependency holds this object's notifications now, or null. */
  notificationDependency(key: string): string | null {
    return dependencyBlocker(key, 'notification', this.depsByDependent, this.lookup());
  }

  /** Why an execution dependency stops this object's active checks now, or null (the scheduler asks). */
  executionBlocker(key: string): string | null {
    return dependencyBlocker(key, 'execution', this.depsByDependent, this.lookup());
  }

  /**
   * The scheduler skipped an active check (execution dependency): the state is kept, as
   * Nagios does; history says so once when skipping starts and once when it ends.
   */
  checkSkipped(key: string, reason: string | null): void {
    const was = this.skipping.get(key) ?? null;
    if (was === reason) return;
    if (reason === null) this.skipping.delete(key);
    else this.skipping.set(key, reason);
    const s = this.statuses.get(key);
    if (!s) return;
    const detail = reason === null ? `checks resume, ${was ?? 'dependency'} cleared` : `check skipped: ${reason}`;
    this.write({ statuses: [], history: [{ key, at: this.clock.now(), type: 'CHECK_SKIPPED', state: s.state, stateType: s.stateType, attempt: s.attempt, output: s.output, detail }], outbox: [] });
  }

  /** The execution dependency that currently stops this object's checks (API, page). */
  skippedBy(key: string): string | null {
    return this.skipping.get(key) ?? null;
  }

  /** Hosts whose reachability may have changed: to check now (see rechecksAfterHostChange). */
  takeRechecks(): string[] {
    const out = [...this.rechecks];
    this.rechecks.clear();
    return out;
  }

  private begin(): Pending {
    return { statuses: new Map(), downtimes: new Map(), silences: new Map(), history: [], notifications: [] };
  }

  private take(p: Pending, t: Transition, dtKey?: string): void {
    p.statuses.set(t.status.key, t.status);
    // Only downtimes that changed are written: every result passes its object's list through
    // (applyResult), and an unchanged one cost the PostgreSQL store a transaction with a
    // DELETE per commit instead of its one statement.
    if (dtKey !== undefined) {
      const was = this.currentDowntimes(p, dtKey);
      if (was.length !== t.downtimes.length || t.downtimes.some((d, i) => d !== was[i])) p.downtimes.set(dtKey, [...t.downtimes]);
    }
    p.history.push(...t.history);
    p.notifications.push(...t.notifications);
  }

  private current(p: Pending, key: string): CheckStatus {
    const s = p.statuses.get(key) ?? this.statuses.get(key);
    if (!s) throw new NotFoundError(`no host or service '${key}' in the inventory`);
    return s;
  }
  private currentDowntimes(p: Pending, key: string): Downtime[] {
    return p.downtimes.get(key) ?? this.downtimesByKey.get(key) ?? [];
  }

  /**
   * Writes a change in one transaction, after any change still waiting. A store error never
   * reaches the caller: the change is kept in memory (merged, so a long outage holds one
   * status per object, not one per result) and retried with backoff.
   */
  private write(change: StoreChange, forget: readonly string[] = []): boolean {
    const group = this.store.groupCommitMs ?? 0;
    if (this.unsaved === null && this.inflight === null && group <= 0) {
      try {
        const pending = commitTo(this.store, change, forget);
        if (pending) {
          this.track(pending, change, forget);
          return false;
        }
        this.health.ok();
        return true;
      } catch (e) {
        this.health.fail('writing state changes', e);
      }
    }
    // Waiting behind a failure, or behind the commit in flight.
    const u: Unsaved = (this.unsaved ??= { statuses: new Map(), downtimes: new Map(), silences: new Map(), history: [], outbox: [], forget: new Set(), droppedHistory: 0 });
    for (const k of forget) {
      u.forget.add(k);
      u.statuses.delete(k);
      u.downtimes.delete(k);
    }
    for (const s of change.statuses) u.statuses.set(s.key, s);
    for (const [k, d] of change.downtimes ?? []) u.downtimes.set(k, d);
    for (const [k, d] of change.silences ?? []) u.silences.set(k, d);
    // History is bounded while it cannot be written; the outbox is not (each row is an alert).
    const room = Math.max(0, 10_000 - u.history.length);
    u.history.push(...change.history.slice(0, room));
    u.droppedHistory += Math.max(0, change.history.length - room);
    u.outbox.push(...change.outbox);
    // While a commit is in flight, its end writes these (no timer). Gathering (a store that
    // answers later, nothing failed): written together after groupCommitMs, on the real clock
    // (it gathers I/O; a fake clock in tests must not hold writes back).
    if (this.inflight === null) {
      if (group > 0 && !this.retryTimer) {
        this.groupTimer ??= setTimeout(() => {
          this.groupTimer = null;
          this.retryUnsaved();
        }, group);
      } else this.scheduleRetry();
    }
    return false;
  }

  private groupTimer: ReturnType<typeof setTimeout> | null = null;

  /** Follows a commit that answers later: success as a synchronous write, failure kept and retried. */
  private track(pending: Promise<void>, change: StoreChange, forget: readonly string[]): void {
    this.inflight = pending.then(
      () => {
        this.inflight = null;
        this.health.ok();
        if (change.outbox.length) this.emit({ type: 'notifications', count: change.outbox.length });
        if (this.unsaved) this.retryUnsaved();
      },
      (e: unknown) => {
        this.inflight = null;
        this.health.fail('writing state changes', e);
        this.unsaved = requeue(change, forget, this.unsaved);
        this.scheduleRetry();
      },
    );
  }

  /**
   * Waits until nothing is in flight or waiting (shutdown, tests); false when the store still
   * refuses what is held.
   */
  async flushed(): Promise<boolean> {
    for (;;) {
      if (this.inflight) await this.inflight;
      if (this.unsaved === null) return true;
      // Closed (a bounded stop gave up waiting): no more retries.
      if (this.flushStopped) return false;
      this.retryUnsaved();
      if (!this.inflight) return this.unsaved === null;
      // A store that fails at once (closed, unreachable) must not starve the timers: one loop turn per retry.
      await new Promise((r) => setImmediate(r));
    }
  }

  private scheduleRetry(): void {
    if (this.retryTimer) return;
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = null;
      this.retryUnsaved();
    }, this.health.backoffMs());
  }

  /** Writes the changes kept in memory; true when nothing is left. */
  private flushStopped = false;

  retryUnsaved(): boolean {
    const u = this.unsaved;
    if (u === null) return true;
    if (this.inflight) return false; // its end retries
    if (this.groupTimer) clearTimeout(this.groupTimer);
    this.groupTimer = null;
    const change: StoreChange = { statuses: [...u.statuses.values()], downtimes: u.downtimes, silences: u.silences, history: u.history, outbox: u.outbox };
    try {
      const pending = commitTo(this.store, change, [...u.forget]);
      if (pending) {
        this.unsaved = null;
        if (this.retryTimer) this.clock.clearTimeout(this.retryTimer);
        this.retryTimer = null;
        this.track(pending, change, [...u.forget]);
        return false;
      }
    } catch (e) {
      this.health.fail('writing state changes', e);
      this.scheduleRetry();
      return false;
    }
    this.unsaved = null;
    if (this.retryTimer) this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.health.ok();
    if (u.outbox.length) this.emit({ type: 'notifications', count: u.outbox.length });
    return true;
  }

  /** Counts of what waits in memory for the store (status page, alert). */
  unsavedCounts(): { statuses: number; history: number; notifications: number; droppedHistory: number } {
    const u = this.unsaved;
    return { statuses: u?.statuses.size ?? 0, history: u?.history.length ?? 0, notifications: u?.outbox.length ?? 0, droppedHistory: u?.droppedHistory ?? 0 };
  }

  /** Stops the retry timer (shutdown), after one last try. */
  close(): void {
    if (this.flushStopped) return;
    this.flushStopped = true;
    this.retryUnsaved();
    if (this.retryTimer) this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  /** Writes the pending change in one transaction, then makes it visible. */
  private finish(p: Pending): void {
    this.holdBack(p);
    this.release(p);
    this.fold(p);
    const outbox = this.recipients(p.notifications, undefined, p.history);
    const written = this.write({ statuses: [...p.statuses.values()], downtimes: p.downtimes, silences: p.silences, history: p.history, outbox });
    for (const [k, s] of p.statuses) this.statuses.set(k, s);
    for (const [k, d] of p.downtimes) {
      if (d.length) this.downtimesByKey.set(k, d);
      else this.downtimesByKey.delete(k);
    }
    if (p.statuses.size) this.emit({ type: 'status', keys: [...p.statuses.keys()] });
    if (outbox.length && written) this.emit({ type: 'notifications', count: outbox.length });
  }

  // --- silences and inhibition (server/notify/silences.ts, server/state/inhibition.ts) ---

  private silenceTarget(s: CheckStatus, state: number): SilenceTarget {
    const o = this.objectsByKey.get(s.key);
    const rules = (this.rulesByMember.get(s.key) ?? []).map((r) => r.key);
    if (o?.kind === 'cluster') rules.push(o.key);
    return { key: s.key, kind: s.kind, hostName: s.hostName, serviceName: s.serviceName, state, rules };
  }

  /** Why this notification is held back by a silence or an inhibiting rule; null when it is not. */
  private holdReason(p: Pending, s: CheckStatus, type: NotificationIntent['type'], state: number): string | null {
    if (!SILENCEABLE.has(type)) return null;
    const sil = silencesFor(this.silencesById.values(), this.silenceTarget(s, state), this.clock.now())[0];
    if (sil) return silenceReason(sil);
    if (type !== 'PROBLEM') return null;
    const rule = activeInhibitor(s.key, this.inhibitorsOf, (k) => p.statuses.get(k) ?? this.statuses.get(k));
    return rule === null ? null : `inhibited by rule ${rule}`;
  }

  /**
   * Takes the notifications a silence or an inhibiting rule covers out of the change. A held
   * PROBLEM leaves the notification counters as they were, so it is still due (and sent by
   * release) when the silence or the rule's problem ends. History says why, once per reason.
   */
  private holdBack(p: Pending): void {
    const kept: NotificationIntent[] = [];
    for (const n of p.notifications) {
      const s = p.statuses.get(n.key) ?? this.statuses.get(n.key);
      const reason = s ? this.holdReason(p, s, n.type, n.state) : null;
      if (!s || reason === null) {
        kept.push(n);
        continue;
      }
      const ev = { key: n.key, at: n.at, type: 'NOTIFICATION_SUPPRESSED' as const, state: s.state, stateType: s.stateType, attempt: s.attempt, output: s.output };
      if (n.type !== 'PROBLEM') {
        p.history.push({ ...ev, detail: `${n.type.toLowerCase()} ${reason}` });
        continue;
      }
      p.statuses.set(n.key, { ...s, notification: this.statuses.get(n.key)?.notification ?? { number: 0, lastAt: null, nextAt: null, lastNotifiedState: null } });
      if (this.held.get(n.key) !== reason) p.history.push({ ...ev, detail: reason });
      this.held.set(n.key, reason);
    }
    p.notifications = kept;
  }

  /** Sends the held problems whose silence or inhibiting rule has ended, if still due. */
  private release(p: Pending): void {
    const now = this.clock.now();
    for (const [key, reason] of [...this.held]) {
      if (!this.mine(key)) continue;
      const s = this.objectsByKey.has(key) ? p.statuses.get(key) ?? this.statuses.get(key) : undefined;
      if (!s || !s.checked || s.state === 0 || s.stateType !== 'HARD') {
        this.held.delete(key); // recovered (never notified: no RECOVERY either) or gone
        continue;
      }
      const still = this.holdReason(p, s, 'PROBLEM', s.state);
      if (still !== null) {
        if (still !== reason) {
          this.held.set(key, still);
          p.history.push({ key, at: now, type: 'NOTIFICATION_SUPPRESSED', state: s.state, stateType: s.stateType, attempt: s.attempt, output: s.output, detail: still });
        }
        continue;
      }
      this.held.delete(key);
      const policy = this.policyOf(key);
      // Acknowledged, in downtime, host down, dependency, outside notification_period...: the
      // ordinary rules decide from here on (the tick sends it when the period opens), and the
      // gate sets the next time, so an escalation by time still comes after a release.
      const gate = this.gateFor(key, policy, now);
      if (problemNotificationBlocker(s, policy, this.notifyContext(s, p), now, gate) !== null) continue;
      const n = notifyProblem(s, policy, now, gate);
      p.statuses.set(key, n.status);
      p.notifications.push(n.note);
    }
  }

  /** An inhibiting rule's problem notification says how many alerts it holds. */
  private fold(p: Pending): void {
    p.notifications = p.notifications.map((n) => {
      if (n.type !== 'PROBLEM' || this.objectsByKey.get(n.key)?.kind !== 'cluster') return n;
      const mine = `inhibited by rule ${n.key}`;
      const count = [...this.held.values()].filter((r) => r === mine).length;
      return count ? { ...n, output: `${n.output}, ${foldNote(count)}` } : n;
    });
  }

  /** At start: problems that are due but silenced or inhibited are held (sent when that ends). */
  private rebuildHeld(): void {
    const p = this.begin();
    const now = this.clock.now();
    for (const s of this.statuses.values()) {
      if (!s.checked || s.state === 0 || s.stateType !== 'HARD' || !this.objectsByKey.has(s.key) || !this.mine(s.key)) continue;
      const policy = this.policyOf(s.key);
      if (problemNotificationBlocker(s, policy, this.notifyContext(s), now, this.gateFor(s.key, policy, now)) !== null) continue;
      const reason = this.holdReason(p, s, 'PROBLEM', s.state);
      if (reason !== null) this.held.set(s.key, reason);
    }
  }

  /** Silences not yet expired (active and future), oldest first. */
  silences(): Silence[] {
    const now = this.clock.now();
    return [...this.silencesById.values()].filter((s) => now < s.end).sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  /** The active silences that cover this object in its current state. */
  silencedBy(key: string): Silence[] {
    const s = this.statuses.get(key);
    return s ? silencesFor(this.silencesById.values(), this.silenceTarget(s, s.state), this.clock.now()) : [];
  }

  /** The rule that inhibits this object now, or null. */
  inhibitedBy(key: string): string | null {
    return activeInhibitor(key, this.inhibitorsOf, (k) => this.statuses.get(k));
  }

  /** How many objects an active silence covers now (any state it names). */
  silenceCoverage(sil: Silence): number {
    const now = this.clock.now();
    if (!isActive(sil, now)) return 0;
    let n = 0;
    for (const s of this.statuses.values()) if (silencesFor([sil], this.silenceTarget(s, s.state), now).length) n++;
    return n;
  }

  addSilence(req: SilenceRequest): Silence {
    const problem = matcherProblem(req.matchers, (k) => this.objectsByKey.get(k)?.kind === 'cluster');
    if (problem !== null) throw new ConflictError(problem);
    const now = this.clock.now();
    if (req.end <= req.start) throw new ConflictError('the silence ends before it starts: give an end after the start');
    if (req.end <= now) throw new ConflictError('the silence would end in the past: give an end in the future');
    const sil: Silence = { id: randomUUID(), matchers: req.matchers, author: req.author, comment: req.comment, start: req.start, end: req.end, createdAt: now };
    this.silencesById.set(sil.id, sil);
    const p = this.begin();
    p.silences.set(sil.id, sil);
    this.finish(p);
    this.emitCovered(sil);
    return sil;
  }

  /** Open status pages refresh the objects whose silencedBy just changed. */
  private emitCovered(sil: Silence): void {
    const any = { ...sil, matchers: { ...sil.matchers, states: null }, start: 0, end: Infinity };
    const keys = [...this.statuses.values()].filter((s) => silencesFor([any], this.silenceTarget(s, s.state), 0).length).map((s) => s.key);
    if (keys.length) this.emit({ type: 'status', keys });
  }

  /** Ends a silence now (Alertmanager's expire): what it held and is still a problem is sent. */
  expireSilence(id: string): Silence {
    const sil = this.silencesById.get(id);
    if (!sil || sil.end <= this.clock.now()) throw new NotFoundError(`no active or pending silence ${id}: list them with GET /api/v1/silences`);
    this.silencesById.delete(id);
    const p = this.begin();
    p.silences.set(id, null);
    this.finish(p);
    this.emitCovered(sil);
    return sil;
  }

  contactsOf(key: string): string[] {
    const o = this.objectsByKey.get(key);
    if (!o) return [];
    return [...(o.kind === 'host' ? o.host.contacts : o.kind === 'service' ? o.service.contacts : o.rule.contacts)];
  }

  private wants(contact: ContactConfig, n: NotificationIntent): boolean {
    const opts = n.kind === 'host' ? contact.hostOptions : contact.serviceOptions;
    switch (n.type) {
      case 'PROBLEM': {
        const o = optionForState(n.kind, n.state);
        return o !== null && opts.includes(o);
      }
      case 'RECOVERY':
        return opts.includes('r');
      case 'FLAPPINGSTART':
      case 'FLAPPINGSTOP':
        return opts.includes('f');
      case 'DOWNTIMESTART':
      case 'DOWNTIMEEND':
      case 'DOWNTIMECANCELLED':
        return opts.includes('s');
      default:
        return true;
    }
  }

  private recipients(notes: readonly NotificationIntent[], to?: readonly string[], history?: HistoryEvent[]): OutboxInsert[] {
    const out: OutboxInsert[] = [];
    const notBefore = this.clock.now() + this.inv.notifier.groupWindowMs;
    const ctx = this.timingContext();
    for (const n of notes) {
      // Escalations replace the object's contacts while they apply (server/notify/escalations.ts).
      const list = to ? to.map((contact) => ({ contact, channels: null })) : recipientsOf(n, this.contactsOf(n.key), this.timingOf(n.key).escalations ?? [], ctx);
      for (const { contact: name, channels } of list) {
        const c = this.inv.contacts.get(name);
        if (!c || (to === undefined && !this.wants(c, n))) continue;
        const outside = to === undefined ? contactPeriodBlocker(c, n.kind, n.at, ctx) : null;
        if (outside !== null) {
          const st = this.statuses.get(n.key);
          history?.push({ key: n.key, at: n.at, type: 'NOTIFICATION_SUPPRESSED', state: n.state, stateType: st?.stateType ?? 'HARD', attempt: st?.attempt ?? 1, output: n.output, detail: `${n.type}: ${outside}` });
          continue;
        }
        if (c.email && (channels === null || channels.includes('email'))) out.push({ contact: name, channel: 'email', notification: n, notBefore });
        if (c.sms && (channels === null || channels.includes('sms'))) out.push({ contact: name, channel: 'sms', notification: n, notBefore });
      }
    }
    return out;
  }

  /** Time periods and the zone they are read in. */
  timingContext(): TimingContext {
    return { periods: this.inv.timeperiods ?? new Map([['24x7', TWENTY_FOUR_SEVEN]]), tz: this.inv.server.timezone ?? processTimeZone() };
  }

  timingOf(key: string): ObjectTiming {
    const o = this.objectsByKey.get(key);
    if (!o) return {};
    return o.kind === 'host' ? o.host : o.kind === 'service' ? o.service : o.rule;
  }

  /** notification_period and escalations of an object; undefined when it has neither (the plain Nagios interval applies). */
  private gateFor(key: string, policy: CheckPolicy, now: number): NotificationGate | undefined {
    const t = this.timingOf(key);
    if (t.notificationPeriod === undefined && !t.escalations?.length) return undefined;
    const o = this.objectsByKey.get(key);
    return notificationGate({ ...t, kind: o?.kind === 'host' ? 'host' : 'service' }, policy, now, this.timingContext());
  }

  /** null when a regular check of `key` may run now, else when check_period opens again. */
  checkPeriodWait(key: string): number | null {
    const now = this.clock.now();
    const until = this.checkClosedUntil.get(key);
    if (until !== undefined && now < until) return until;
    const wait = checkPeriodWait(this.timingOf(key).checkPeriod, now, this.timingContext());
    if (wait === null) this.checkClosedUntil.delete(key);
    else this.checkClosedUntil.set(key, wait);
    return wait;
  }

  /** A check result for a host or service (not for cluster rules: they follow their members). */
  submitResult(key: string, outcome: Pick<CheckOutcome, 'state' | 'output' | 'longOutput' | 'perfdataText' | 'executedAt' | 'durationMs'> & { latencyMs?: number }): CheckStatus {
    const o = this.objectsByKey.get(key);
    if (!o) throw new NotFoundError(`no host or service '${key}' in the inventory`);
    if (o.kind === 'cluster') throw new ConflictError(`${key} is a cluster rule: it is computed from its members`);
    this.assertMine(key);
    const hostState = o.kind === 'host' ? hostStateFromPlugin(outcome.state) : 0;
    const result: ResultInput = {
      // A failed host check is DOWN or UNREACHABLE by its parents' states (Nagios reachability).
      state: o.kind === 'host' ? (hostState === 0 ? 0 : problemHostState(o.host.parents ?? [], this.lookup())) : outcome.state,
      output: outcome.output,
      longOutput: outcome.longOutput,
      perfdata: outcome.perfdataText,
      executedAt: outcome.executedAt,
      durationMs: outcome.durationMs,
      latencyMs: outcome.latencyMs,
    };
    return this.apply(key, result);
  }

  private apply(key: string, result: ResultInput): CheckStatus {
    const p = this.begin();
    this.applyInto(p, key, result);
    this.finish(p);
    return this.current(p, key);
  }

  /**
   * A passive result (Nagios PROCESS_SERVICE_CHECK_RESULT / PROCESS_HOST_CHECK_RESULT), for a
   * passive or an active object: the same state machine as a check result. A host's state is
   * given as Nagios takes it (0 UP, 1 DOWN, 2 UNREACHABLE) and is HARD at once, as Nagios 4
   * treats passive host results (passive_host_checks_are_soft=0).
   */
  submitPassiveResult(key: string, result: Omit<ResultInput, 'stale' | 'latencyMs'>): CheckStatus {
    const o = this.objectsByKey.get(key);
    if (!o) throw new NotFoundError(`no host or service '${key}' in the inventory`);
    if (o.kind === 'cluster') throw new ConflictError(`${key} is a cluster rule: it is computed from its members`);
    if (o.kind === 'host' && o.host.check === null && !o.host.passive) throw new ConflictError(`host ${key} has no check and is not passive: give it passive: true to feed it results`);
    this.assertMine(key);
    const p = this.begin();
    this.applyInto(p, key, result, o.kind === 'host' ? { ...o.host.policy, maxCheckAttempts: 1 } : undefined);
    this.finish(p);
    return this.current(p, key);
  }

  private applyInto(p: Pending, key: string, result: ResultInput, policy?: CheckPolicy): void {
    const now = this.clock.now();
    const status = this.current(p, key);
    const o = this.objectsByKey.get(key);
    const pol = policy ?? (o?.kind === 'cluster' ? this.holdDown.policyFor(o.rule, status, result, now) : this.confirm.policyFor(key, this.policyOf(key), now));
    const t = applyResult({
      status,
      downtimes: this.currentDowntimes(p, key),
      policy: pol,
      result,
      now,
      host: this.notifyContext(status, p),
      gate: this.gateFor(key, pol, now),
    });
    this.take(p, t, key);
    if (o?.kind === 'cluster' && result.holders && t.status.state === 0) this.noteFailover(p, o.rule, result.holders, now);
    this.confirm.settle(key, this.current(p, key));
    if (o?.kind === 'host') for (const k of rechecksAfterHostChange(key, status, t.status, this.parentsOf, this.childrenOf, this.lookup(p))) this.rechecks.add(k);
    for (const rule of this.rulesByMember.get(key) ?? []) {
      if (!this.mine(rule.key)) continue; // its owner judges it from the read view
      // Every member result is a judgement, also an unchanged one: the hold-down counts them.
      const r = evaluateClusterRule(rule, (k) => this.current(p, k), now);
      if (r) this.applyInto(p, rule.key, r);
    }
  }

  /** The role holders of each rule's last OK judgement (in memory: a restart starts afresh). */
  private readonly okHolders = new Map<string, readonly string[]>();

  private noteFailover(p: Pending, rule: ClusterRuleConfig, holders: readonly string[], now: number): void {
    const before = this.okHolders.get(rule.key);
    this.okHolders.set(rule.key, holders);
    const text = before ? failoverText(rule, before, holders) : null;
    if (!text) return;
    const s = this.current(p, rule.key);
    p.history.push({ key: rule.key, at: now, type: 'FAILOVER', state: s.state, stateType: s.stateType, attempt: s.attempt, output: text });
    this.failovers.set(rule.key, (this.failovers.get(rule.key) ?? 0) + 1);
  }

  /** Failovers seen per rule since start (/metrics). */
  readonly failovers = new Map<string, number>();

  /** Re-evaluates every cluster rule (after a reload or at start). */
  evaluateClusterRules(): void {
    const p = this.begin();
    const now = this.clock.now();
    for (const rule of this.inv.clusterRules.values()) {
      if (!this.mine(rule.key)) continue;
      const r = evaluateClusterRule(rule, (k) => this.current(p, k), now);
      const prev = this.current(p, rule.key);
      if (!r || (prev.checked && prev.state === r.state && prev.output === r.output)) continue;
      this.applyInto(p, rule.key, r);
    }
    if (p.statuses.size) this.finish(p);
  }

  acknowledge(key: string, a: { sticky: boolean; notify: boolean; author: string; comment: string }): CheckStatus {
    this.assertMine(key);
    const p = this.begin();
    const t = ackStatus(this.current(p, key), { ...a, at: this.clock.now() }, this.policyOf(key));
    this.take(p, t);
    this.finish(p);
    return t.status;
  }

  removeAcknowledgement(key: string): CheckStatus {
    this.assertMine(key);
    const p = this.begin();
    const t = removeAcknowledgement(this.current(p, key), this.clock.now());
    this.take(p, t);
    this.finish(p);
    return t.status;
  }

  scheduleDowntime(req: DowntimeRequest): Downtime[] {
    const o = this.objectsByKey.get(req.key);
    if (!o) throw new NotFoundError(`no host or service '${req.key}' in the inventory`);
    if (req.end <= req.start) throw new ConflictError('the downtime ends before it starts');
    if (!req.fixed && req.durationMs <= 0) throw new ConflictError('a flexible downtime needs a duration');
    this.assertMine(req.key);
    const keys = [req.key];
    if (o.kind === 'host' && req.includeServices) {
      for (const s of this.objectsByKey.values()) if (s.kind !== 'host' && this.statuses.get(s.key)?.hostName === req.key) keys.push(s.key);
    }
    const p = this.begin();
    const created: Downtime[] = [];
    for (const key of keys) {
      const d: Downtime = { id: randomUUID(), key, fixed: req.fixed, start: req.start, end: req.end, durationMs: req.fixed ? req.end - req.start : req.durationMs, author: req.author, comment: req.comment, startedAt: null };
      created.push(d);
      const t = advanceDowntimes(this.current(p, key), [...this.currentDowntimes(p, key), d], this.policyOf(key), this.clock.now());
      this.take(p, t, key);
    }
    this.finish(p);
    return created.map((d) => this.downtimes(d.key).find((x) => x.id === d.id) ?? d);
  }

  cancelDowntime(id: string): void {
    const d = this.downtimes().find((x) => x.id === id);
    if (!d) throw new NotFoundError(`no downtime ${id}`);
    this.assertMine(d.key);
    const p = this.begin();
    this.take(p, cancelDt(this.current(p, d.key), this.currentDowntimes(p, d.key), id, this.policyOf(d.key), this.clock.now()), d.key);
    this.finish(p);
  }

  /** Starts/ends due downtimes and applies stale results; returns the keys to re-check now (stale, or members of a rule held down). */
  tick(): string[] {
    const now = this.clock.now();
    const p = this.begin();
    for (const [key, list] of this.downtimesByKey) {
      if (!this.objectsByKey.has(key) || !this.mine(key)) continue;
      const t = advanceDowntimes(this.current(p, key), list, this.policyOf(key), now);
      if (t.downtimes.length !== list.length || t.status !== this.current(p, key) || t.downtimes.some((d, i) => d !== list[i])) this.take(p, t, key);
    }
    // Held notifications (notification_period opened) and escalations by time fall due without a result.
    const may = this.mayRun();
    for (const o of may) {
      if (!this.mine(o.key)) continue;
      const s = this.current(p, o.key);
      // A held problem is release()'s: proposing it again here only to hold it back again
      // rewrote the same status and sent a status event every tick.
      if (!s.checked || s.state === 0 || s.stateType !== 'HARD' || s.ack || this.held.has(o.key)) continue;
      const policy = this.policyOf(o.key);
      const gate = this.gateFor(o.key, policy, now);
      if (!gate) continue;
      const t = notifyIfDue(s, policy, this.notifyContext(s, p), now, gate);
      if (t.notifications.length) this.take(p, t);
    }
    const stale: string[] = [];
    for (const o of may) {
      const passive = o.kind === 'host' ? !!o.host.passive : o.kind === 'service' && !!o.service.passive;
      if (o.kind === 'cluster' || (o.kind === 'host' && o.host.check === null && !passive) || !this.mine(o.key)) continue;
      // Checks skipped by an execution dependency keep their last state, not a stale one.
      if (!passive && this.skipping.has(o.key)) continue;
      const s = this.current(p, o.key);
      const policy = this.policyOf(o.key);
      // A passive object that never got a result is judged from the server start, as Nagios does.
      const seen = s.lastCheck === null ? (passive ? this.startedAt : null) : Math.max(s.lastCheck, this.startedAt);
      const st = staleness({ ...s, lastCheck: seen }, policy, now);
      // Nagios judges freshness only inside check_period; here only when it was open over the whole threshold, so the first check after it opens comes first.
      const checkPeriod = this.timingOf(o.key).checkPeriod;
      if (checkPeriod !== undefined && st.stale && (this.checkPeriodWait(o.key) !== null || !inCheckPeriod(checkPeriod, now - st.thresholdMs, this.timingContext()))) continue;
      if (!s.stale && st.stale) {
        stale.push(o.key);
        const r = staleResult({ ...s, lastCheck: seen }, policy, now);
        if (!passive) this.applyInto(p, o.key, r);
        else {
          // Nothing re-checks a passive object, so its stale state is HARD at once (else it
          // would stay SOFT 1/N and never notify); a host's is DOWN unless told UP.
          const output = `No passive result for ${Math.round(st.ageMs / 1000)} s, freshness threshold ${Math.round(st.thresholdMs / 1000)} s: is the sender running`;
          this.applyInto(p, o.key, { ...r, output, state: o.kind === 'host' ? (r.state === 0 ? 0 : 1) : r.state }, { ...policy, maxCheckAttempts: 1 });
        }
      }
    }
    // Expired silences leave the store; what they held and is still a problem is sent now.
    for (const sil of this.silencesById.values()) {
      if (now < sil.end) continue;
      this.silencesById.delete(sil.id);
      p.silences.set(sil.id, null);
    }
    if (this.held.size) this.release(p);
    if (p.statuses.size || p.downtimes.size || p.silences.size) this.finish(p);
    // Rules held down re-check their members: the hold-down counts fresh results only.
    for (const k of this.holdDown.due(this.inv.clusterRules.values(), (x) => this.statuses.get(x), now)) if (!stale.includes(k) && this.mine(k)) stale.push(k);
    for (const k of this.takeRechecks()) if (!stale.includes(k)) stale.push(k);
    return stale;
  }

  /** Sends a free-form notification (daily summary) to contacts. */
  notifyContacts(contacts: readonly string[], subject: string, text: string): void {
    // Several instances: only the one running the monitoring of the instances sends these (once).
    if (!this.mine(HA_KEY)) return;
    const n: NotificationIntent = { type: 'CUSTOM', key: '', kind: 'service', hostName: 'hawatch', serviceName: subject, state: 0, stateName: 'OK', output: text, at: this.clock.now(), number: 0 };
    const outbox = this.recipients([n], contacts);
    if (this.write({ statuses: [], history: [], outbox }) && outbox.length) this.emit({ type: 'notifications', count: outbox.length });
  }

  summary(): { hosts: Record<string, number>; services: Record<string, number>; problems: CheckStatus[] } {
    const hosts: Record<string, number> = { UP: 0, DOWN: 0, UNREACHABLE: 0, PENDING: 0 };
    const services: Record<string, number> = { OK: 0, WARNING: 0, CRITICAL: 0, UNKNOWN: 0, PENDING: 0 };
    const problems: CheckStatus[] = [];
    for (const s of this.statuses.values()) {
      const bucket = s.kind === 'host' ? hosts : services;
      const name = !s.checked ? 'PENDING' : s.kind === 'host' ? (['UP', 'DOWN', 'UNREACHABLE'][s.state] ?? 'DOWN') : (['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'][s.state] ?? 'UNKNOWN');
      bucket[name] = (bucket[name] ?? 0) + 1;
      if (s.checked && s.state !== 0) problems.push(s);
    }
    return { hosts, services, problems };
  }
}

/** The stored state a monitor starts from. */
export interface StoredState {
  readonly statuses: readonly CheckStatus[];
  readonly downtimes: readonly Downtime[];
  readonly silences: readonly Silence[];
}

/** Reads the stored state (a store that may answer later: PostgreSQL). */
export async function loadStored(store: AnyStore): Promise<StoredState> {
  return { statuses: await store.loadStatuses(), downtimes: await store.loadDowntimes(), silences: await store.loadSilences() };
}

function loadStoredNow(store: AnyStore): StoredState {
  const statuses = store.loadStatuses();
  const downtimes = store.loadDowntimes();
  const silences = store.loadSilences();
  if (statuses instanceof Promise || downtimes instanceof Promise || silences instanceof Promise) {
    throw new Error('this store answers later: read its state with loadStored() and pass it to the Monitor');
  }
  return { statuses, downtimes, silences };
}

/** Forgets then commits; a promise when the store answers later, undefined when done (SQLite). */
function commitTo(store: AnyStore, change: StoreChange, forget: readonly string[]): Promise<void> | undefined {
  const f = forget.length ? store.forget(forget) : undefined;
  if (f instanceof Promise) return f.then(() => store.commit(change));
  const c = store.commit(change);
  return c instanceof Promise ? c : undefined;
}

type Unsaved = { statuses: Map<string, CheckStatus>; downtimes: Map<string, readonly Downtime[]>; silences: Map<string, Silence | null>; history: HistoryEvent[]; outbox: OutboxInsert[]; forget: Set<string>; droppedHistory: number };

/** A failed commit goes back in front of the changes made after it (theirs win per object). */
function requeue(change: StoreChange, forget: readonly string[], later: Unsaved | null): Unsaved {
  const u: Unsaved = { statuses: new Map(), downtimes: new Map(), silences: new Map(), history: [...change.history], outbox: [...change.outbox], forget: new Set(forget), droppedHistory: 0 };
  for (const s of change.statuses) u.statuses.set(s.key, s);
  for (const [k, d] of change.downtimes ?? []) u.downtimes.set(k, d);
  for (const [k, d] of change.silences ?? []) u.silences.set(k, d);
  if (later === null) return u;
  for (const k of later.forget) {
    u.forget.add(k);
    u.statuses.delete(k);
    u.downtimes.delete(k);
  }
  for (const [k, s] of later.statuses) u.statuses.set(k, s);
  for (const [k, d] of later.downtimes) u.downtimes.set(k, d);
  for (const [k, d] of later.silences) u.silences.set(k, d);
  u.history.push(...later.history);
  u.droppedHistory = later.droppedHistory + Math.max(0, u.history.length - 10_000);
  u.history.length = Math.min(u.history.length, 10_000);
  u.outbox.push(...later.outbox);
  return u;
}
