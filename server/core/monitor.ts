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
import { evaluateClusterRule } from '../state/cluster.ts';
import {
  acknowledge as ackStatus,
  advanceDowntimes,
  applyResult,
  cancelDowntime as cancelDt,
  initialStatus,
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
  type NotificationIntent,
  type ResultInput,
  type Transition,
} from '../state/types.ts';
import type { OutboxInsert, Store, StoreChange } from '../store/types.ts';
import type { TimerHandle } from '../state/clock.ts';
import { StoreHealth } from './health.ts';
import { RuleHoldDown } from '../state/rules.ts';
import { ConfirmTracker } from '../state/confirm.ts';

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

interface Pending {
  statuses: Map<string, CheckStatus>;
  downtimes: Map<string, Downtime[]>;
  history: HistoryEvent[];
  notifications: NotificationIntent[];
}

export class Monitor {
  private inv: Inventory;
  private readonly store: Store;
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
  private readonly listeners = new Set<(e: MonitorEvent) => void>();
  /** Freshness does not count the time the server was not running. */
  private readonly startedAt: number;
  readonly health: StoreHealth;
  /**
   * Changes the store refused (full disk): merged into one, written in order before any
   * later change, retried with backoff. The live state already shows them.
   */
  private unsaved: { statuses: Map<string, CheckStatus>; downtimes: Map<string, readonly Downtime[]>; history: HistoryEvent[]; outbox: OutboxInsert[]; forget: Set<string>; droppedHistory: number } | null = null;
  private retryTimer: TimerHandle | null = null;

  constructor(inventory: Inventory, store: Store, clock: Clock, health?: StoreHealth) {
    this.inv = inventory;
    this.store = store;
    this.clock = clock;
    this.health = health ?? new StoreHealth(clock);
    this.startedAt = clock.now();
    for (const s of store.loadStatuses()) this.statuses.set(s.key, s);
    for (const d of store.loadDowntimes()) this.downtimesByKey.set(d.key, [...(this.downtimesByKey.get(d.key) ?? []), d]);
    this.index(inventory);
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
    this.holdDown.forget(new Set(inv.clusterRules.keys()));
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
    return { problem: !!h && h.checked && h.state !== 0, inDowntime: !!h && h.downtimeDepth > 0 };
  }

  private begin(): Pending {
    return { statuses: new Map(), downtimes: new Map(), history: [], notifications: [] };
  }

  private take(p: Pending, t: Transition, dtKey?: string): void {
    p.statuses.set(t.status.key, t.status);
    if (dtKey !== undefined) p.downtimes.set(dtKey, [...t.downtimes]);
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
    if (this.unsaved === null) {
      try {
        if (forget.length) this.store.forget(forget);
        this.store.commit(change);
        this.health.ok();
        return true;
      } catch (e) {
        this.health.fail('writing state changes', e);
        this.unsaved = { statuses: new Map(), downtimes: new Map(), history: [], outbox: [], forget: new Set(), droppedHistory: 0 };
      }
    }
    const u = this.unsaved;
    for (const k of forget) {
      u.forget.add(k);
      u.statuses.delete(k);
      u.downtimes.delete(k);
    }
    for (const s of change.statuses) u.statuses.set(s.key, s);
    for (const [k, d] of change.downtimes ?? []) u.downtimes.set(k, d);
    // History is bounded while it cannot be written; the outbox is not (each row is an alert).
    const room = Math.max(0, 10_000 - u.history.length);
    u.history.push(...change.history.slice(0, room));
    u.droppedHistory += Math.max(0, change.history.length - room);
    u.outbox.push(...change.outbox);
    this.scheduleRetry();
    return false;
  }

  private scheduleRetry(): void {
    if (this.retryTimer) return;
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = null;
      this.retryUnsaved();
    }, this.health.backoffMs());
  }

  /** Writes the changes kept in memory; true when nothing is left. */
  retryUnsaved(): boolean {
    const u = this.unsaved;
    if (u === null) return true;
    try {
      if (u.forget.size) this.store.forget([...u.forget]);
      this.store.commit({ statuses: [...u.statuses.values()], downtimes: u.downtimes, history: u.history, outbox: u.outbox });
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
    this.retryUnsaved();
    if (this.retryTimer) this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  /** Writes the pending change in one transaction, then makes it visible. */
  private finish(p: Pending): void {
    const outbox = this.recipients(p.notifications);
    const written = this.write({ statuses: [...p.statuses.values()], downtimes: p.downtimes, history: p.history, outbox });
    for (const [k, s] of p.statuses) this.statuses.set(k, s);
    for (const [k, d] of p.downtimes) {
      if (d.length) this.downtimesByKey.set(k, d);
      else this.downtimesByKey.delete(k);
    }
    if (p.statuses.size) this.emit({ type: 'status', keys: [...p.statuses.keys()] });
    if (outbox.length && written) this.emit({ type: 'notifications', count: outbox.length });
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

  private recipients(notes: readonly NotificationIntent[], to?: readonly string[]): OutboxInsert[] {
    const out: OutboxInsert[] = [];
    const notBefore = this.clock.now() + this.inv.notifier.groupWindowMs;
    for (const n of notes) {
      for (const name of to ?? this.contactsOf(n.key)) {
        const c = this.inv.contacts.get(name);
        if (!c || (to === undefined && !this.wants(c, n))) continue;
        if (c.email) out.push({ contact: name, channel: 'email', notification: n, notBefore });
        if (c.sms) out.push({ contact: name, channel: 'sms', notification: n, notBefore });
      }
    }
    return out;
  }

  /** A check result for a host or service (not for cluster rules: they follow their members). */
  submitResult(key: string, outcome: Pick<CheckOutcome, 'state' | 'output' | 'longOutput' | 'perfdataText' | 'executedAt' | 'durationMs'> & { latencyMs?: number }): CheckStatus {
    const o = this.objectsByKey.get(key);
    if (!o) throw new NotFoundError(`no host or service '${key}' in the inventory`);
    if (o.kind === 'cluster') throw new ConflictError(`${key} is a cluster rule: it is computed from its members`);
    const result: ResultInput = {
      state: o.kind === 'host' ? hostStateFromPlugin(outcome.state) : outcome.state,
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
    const p = this.begin();
    this.applyInto(p, key, result, o.kind === 'host' ? { ...o.host.policy, maxCheckAttempts: 1 } : undefined);
    this.finish(p);
    return this.current(p, key);
  }

  private applyInto(p: Pending, key: string, result: ResultInput, policy?: CheckPolicy): void {
    const now = this.clock.now();
    const status = this.current(p, key);
    const o = this.objectsByKey.get(key);
    const t = applyResult({
      status,
      downtimes: this.currentDowntimes(p, key),
      policy: policy ?? (o?.kind === 'cluster' ? this.holdDown.policyFor(o.rule, status, result, now) : this.confirm.policyFor(key, this.policyOf(key), now)),
      result,
      now,
      host: status.kind === 'service' ? this.hostContext(status.hostName, p) : undefined,
    });
    this.take(p, t, key);
    this.confirm.settle(key, this.current(p, key));
    for (const rule of this.rulesByMember.get(key) ?? []) {
      // Every member result is a judgement, also an unchanged one: the hold-down counts them.
      const r = evaluateClusterRule(rule, (k) => this.current(p, k), now);
      if (r) this.applyInto(p, rule.key, r);
    }
  }

  /** Re-evaluates every cluster rule (after a reload or at start). */
  evaluateClusterRules(): void {
    const p = this.begin();
    const now = this.clock.now();
    for (const rule of this.inv.clusterRules.values()) {
      const r = evaluateClusterRule(rule, (k) => this.current(p, k), now);
      const prev = this.current(p, rule.key);
      if (!r || (prev.checked && prev.state === r.state && prev.output === r.output)) continue;
      this.applyInto(p, rule.key, r);
    }
    if (p.statuses.size) this.finish(p);
  }

  acknowledge(key: string, a: { sticky: boolean; notify: boolean; author: string; comment: string }): CheckStatus {
    const p = this.begin();
    const t = ackStatus(this.current(p, key), { ...a, at: this.clock.now() }, this.policyOf(key));
    this.take(p, t);
    this.finish(p);
    return t.status;
  }

  removeAcknowledgement(key: string): CheckStatus {
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
    const p = this.begin();
    this.take(p, cancelDt(this.current(p, d.key), this.currentDowntimes(p, d.key), id, this.policyOf(d.key), this.clock.now()), d.key);
    this.finish(p);
  }

  /** Starts/ends due downtimes and applies stale results; returns the keys to re-check now (stale, or members of a rule held down). */
  tick(): string[] {
    const now = this.clock.now();
    const p = this.begin();
    for (const [key, list] of this.downtimesByKey) {
      if (!this.objectsByKey.has(key)) continue;
      const t = advanceDowntimes(this.current(p, key), list, this.policyOf(key), now);
      if (t.downtimes.length !== list.length || t.status !== this.current(p, key) || t.downtimes.some((d, i) => d !== list[i])) this.take(p, t, key);
    }
    const stale: string[] = [];
    for (const o of this.objectsByKey.values()) {
      const passive = o.kind === 'host' ? !!o.host.passive : o.kind === 'service' && !!o.service.passive;
      if (o.kind === 'cluster' || (o.kind === 'host' && o.host.check === null && !passive)) continue;
      const s = this.current(p, o.key);
      const policy = this.policyOf(o.key);
      // A passive object that never got a result is judged from the server start, as Nagios does.
      const seen = s.lastCheck === null ? (passive ? this.startedAt : null) : Math.max(s.lastCheck, this.startedAt);
      const st = staleness({ ...s, lastCheck: seen }, policy, now);
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
    if (p.statuses.size || p.downtimes.size) this.finish(p);
    // Rules held down re-check their members: the hold-down counts fresh results only.
    for (const k of this.holdDown.due(this.inv.clusterRules.values(), (x) => this.statuses.get(x), now)) if (!stale.includes(k)) stale.push(k);
    return stale;
  }

  /** Sends a free-form notification (daily summary) to contacts. */
  notifyContacts(contacts: readonly string[], subject: string, text: string): void {
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
