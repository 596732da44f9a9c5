/**
 * Runs the checks: each host check and service at its interval (retry interval while SOFT),
 * first runs spread evenly over the interval so a restart does not fire everything at
 * once, at most `maxConcurrent` checks in flight (the rest wait in due order), on-demand
 * host checks when a service fails (so host-down suppression can work), freshness and
 * downtime ticks. Time comes from the injected clock.
 */
import type { CheckOutcome, Executor, ExecutorFactory } from '../executors/types.ts';
import type { Monitor } from '../core/monitor.ts';
import type { Clock, TimerHandle } from '../state/clock.ts';
import { buildRequest } from './request.ts';
import { checkHost } from '../inventory/hostcheck.ts';
import type { HostConfig } from '../inventory/types.ts';

export interface SchedulerOptions {
  readonly monitor: Monitor;
  readonly clock: Clock;
  readonly executorFactory: ExecutorFactory;
  /** Macros known at run time: NODE, HAWATCH_BIN. */
  readonly runtimeMacros?: Readonly<Record<string, string>>;
  readonly tickMs?: number;
  /** Host results younger than this are reused instead of an on-demand host check. */
  readonly hostCheckCacheMs?: number;
  readonly onError?: (message: string) => void;
}

export interface SchedulerStats {
  running: number;
  queued: number;
  executed: number;
  /** Sum of latencies (ms) of executed checks: how late they started. */
  latencyMsTotal: number;
  maxLatencyMs: number;
  durationMsTotal: number;
}

interface Entry {
  key: string;
  due: number;
  timer: TimerHandle | null;
  queued: boolean;
  running: boolean;
  /** A re-check was asked for while running: run again at once afterwards. */
  again: boolean;
  waiters: ((ok: boolean) => void)[];
}

export class Scheduler {
  private readonly o: SchedulerOptions;
  private readonly entries = new Map<string, Entry>();
  private readonly queue: Entry[] = [];
  private readonly executors = new Map<string, Executor>();
  private readonly inflight = new Set<Promise<void>>();
  private readonly aborts = new Set<AbortController>();
  private tickTimer: TimerHandle | null = null;
  private stopped = true;
  readonly stats: SchedulerStats = { running: 0, queued: 0, executed: 0, latencyMsTotal: 0, maxLatencyMs: 0, durationMsTotal: 0 };

  constructor(o: SchedulerOptions) {
    this.o = o;
  }

  /** Keys that are actively checked: hosts with a check, and services (not cluster rules, not passive objects). */
  private checkedKeys(): string[] {
    // Several instances: only the objects of this instance's shards (monitor.mine).
    return this.o.monitor.objects().filter((x) => (x.kind === 'host' ? x.host.check !== null && !x.host.passive : x.kind === 'service' && !x.service.passive) && this.o.monitor.mine(x.key)).map((x) => x.key).sort();
  }

  start(): void {
    this.stopped = false;
    this.plan();
    this.o.monitor.evaluateClusterRules();
    const tick = (): void => {
      if (this.stopped) return;
      try {
        for (const key of this.o.monitor.tick()) void this.recheck(key);
      } catch (e) {
        this.o.onError?.(`tick failed: ${(e as Error).message}`);
      }
      this.tickTimer = this.o.clock.setTimeout(tick, this.o.tickMs ?? 1000);
    };
    this.tickTimer = this.o.clock.setTimeout(tick, this.o.tickMs ?? 1000);
  }

  /**
   * (Re)plans every object; keeps nothing of objects that left the inventory (or this
   * instance's shards). `overdueNow`: objects taken over from another instance whose next
   * check is already due run at once instead of being spread over their interval.
   */
  plan(o: { overdueNow?: boolean } = {}): void {
    const keys = this.checkedKeys();
    const wanted = new Set(keys);
    for (const [k, e] of this.entries) {
      if (!wanted.has(k)) {
        if (e.timer) this.o.clock.clearTimeout(e.timer);
        this.entries.delete(k);
      }
    }
    // Keyed by transport kind and host (executorFor): only a host that left the inventory
    // loses its executor. Closing one aborts its running checks, so a re-plan (every shard
    // hand-over, every reload) must not close the executors of hosts still checked.
    for (const [id, ex] of this.executors) {
      if (!this.o.monitor.inventory.hosts.has(id.slice(id.indexOf('\0') + 1))) {
        void ex.close();
        this.executors.delete(id);
      }
    }
    const now = this.o.clock.now();
    // Spread first runs evenly over each object's interval, in key order.
    const fresh = keys.filter((k) => !this.entries.has(k));
    fresh.forEach((key, i) => {
      const st = this.o.monitor.status(key);
      const interval = this.o.monitor.policyOf(key).checkIntervalMs;
      let due = now + Math.floor((i / Math.max(1, fresh.length)) * interval);
      if (st?.nextCheck != null && st.nextCheck > now && st.nextCheck - now <= interval) due = st.nextCheck;
      // Overdue by less than an interval (a hand-over after a lease ran out): at once. Overdue
      // by more (every instance was stopped for minutes): spread like a first run, or all the
      // taken-over checks ran in the same second and stayed bunched (bench:ha: checks started
      // up to 4 s late at the 99th percentile after the whole cluster had been restarted).
      else if (o.overdueNow && st?.nextCheck != null && st.nextCheck <= now && now - st.nextCheck < interval) due = now;
      const e: Entry = { key, due, timer: null, queued: false, running: false, again: false, waiters: [] };
      this.entries.set(key, e);
      this.arm(e, due);
    });
  }

  private arm(e: Entry, at: number): void {
    if (this.stopped) return;
    if (e.timer) this.o.clock.clearTimeout(e.timer);
    e.due = at;
    e.timer = this.o.clock.setTimeout(() => {
      e.timer = null;
      // Outside check_period a regular check waits for the period to open (a forced recheck does not).
      const wait = this.o.monitor.checkPeriodWait(e.key);
      if (wait !== null) {
        this.arm(e, wait);
        return;
      }
      this.enqueue(e);
    }, Math.max(0, at - this.o.clock.now()));
  }

  private enqueue(e: Entry, front = false): void {
    if (e.running) {
      e.again = true;
      return;
    }
    if (!e.queued) {
      e.queued = true;
      if (front) this.queue.unshift(e);
      else this.queue.push(e);
    }
    this.pump();
  }

  /** Runs a check as soon as a slot is free; resolves when its result is applied. */
  recheck(key: string): Promise<boolean> {
    const e = this.entries.get(key);
    if (!e || this.stopped) return Promise.resolve(false);
    return new Promise((resolve) => {
      e.waiters.push(resolve);
      if (e.timer) {
        this.o.clock.clearTimeout(e.timer);
        e.timer = null;
      }
      e.due = Math.min(e.due, this.o.clock.now());
      this.enqueue(e, true);
    });
  }

  private pump(): void {
    const max = this.o.monitor.inventory.server.maxConcurrentChecks;
    while (!this.stopped && this.stats.running < max && this.queue.length) {
      const e = this.queue.shift() as Entry;
      e.queued = false;
      if (!this.entries.has(e.key)) continue;
      const p = this.run(e).finally(() => this.inflight.delete(p));
      this.inflight.add(p);
    }
    this.stats.queued = this.queue.length;
  }

  /** One executor per host and transport kind (a run_on: server service of an NRPE host runs locally). */
  private executorFor(host: HostConfig): Executor {
    const id = `${host.transport.kind}\0${host.name}`;
    let ex = this.executors.get(id);
    if (!ex) {
      ex = this.o.executorFactory(host.transport);
      this.executors.set(id, ex);
    }
    return ex;
  }

  private async run(e: Entry): Promise<void> {
    e.running = true;
    this.stats.running++;
    const started = this.o.clock.now();
    const latencyMs = Math.max(0, started - e.due);
    const abort = new AbortController();
    this.aborts.add(abort);
    let ok = false;
    try {
      // Execution dependency (Nagios): while a master fails, the check is not run and the
      // object keeps its last state; tried again at the normal interval.
      const blocked = this.o.monitor.executionBlocker(e.key);
      this.o.monitor.checkSkipped(e.key, blocked);
      if (blocked !== null) {
        ok = true;
        this.arm(e, this.o.clock.now() + this.o.monitor.policyOf(e.key).checkIntervalMs);
        return;
      }
      const outcome = await this.execute(e.key, abort.signal);
      if (this.stopped || !this.entries.has(e.key)) return;
      // An aborted check (its executor closed under it) says nothing about the object: no
      // result, tried again at the retry interval.
      if (outcome.failure === 'aborted') {
        this.o.onError?.(`check ${e.key} was aborted (its executor closed); it runs again`);
        this.arm(e, this.o.clock.now() + this.o.monitor.policyOf(e.key).retryIntervalMs);
        ok = true;
        return;
      }
      this.stats.executed++;
      this.stats.latencyMsTotal += latencyMs;
      this.stats.maxLatencyMs = Math.max(this.stats.maxLatencyMs, latencyMs);
      this.stats.durationMsTotal += outcome.durationMs;
      const status = this.o.monitor.submitResult(e.key, { ...outcome, latencyMs });
      ok = true;
      // A host that changed state: its children (and parents) are checked now, not at their next turn.
      for (const k of this.o.monitor.takeRechecks()) if (k !== e.key) void this.recheck(k);
      // Nagios runs an on-demand host check when a service turns bad, so a dead host is
      // known before the service goes HARD and its alerts are suppressed.
      if (status.kind === 'service' && status.state !== 0) {
        const host = this.o.monitor.status(status.hostName);
        const cache = this.o.hostCheckCacheMs ?? 15_000;
        if (host && this.entries.has(host.hostName) && (host.lastCheck === null || this.o.clock.now() - host.lastCheck > cache)) void this.recheck(host.hostName);
      }
      this.arm(e, status.nextCheck ?? this.o.clock.now() + this.o.monitor.policyOf(e.key).checkIntervalMs);
    } catch (err) {
      this.o.onError?.(`check ${e.key} failed: ${(err as Error).message}`);
      if (this.entries.has(e.key)) this.arm(e, this.o.clock.now() + this.o.monitor.policyOf(e.key).retryIntervalMs);
    } finally {
      this.aborts.delete(abort);
      this.stats.running--;
      e.running = false;
      for (const w of e.waiters.splice(0)) w(ok);
      if (e.again && !this.stopped) {
        e.again = false;
        this.enqueue(e, true);
      }
      this.pump();
    }
  }

  private async execute(key: string, signal: AbortSignal): Promise<CheckOutcome> {
    const m = this.o.monitor;
    const inv = m.inventory;
    const obj = m.object(key);
    if (!obj || obj.kind === 'cluster') throw new Error(`${key} is not a checked object`);
    const owner = obj.kind === 'host' ? obj.host : inv.hosts.get(obj.service.hostName);
    if (!owner) throw new Error(`host of ${key} is missing`);
    const host = checkHost(owner, obj.kind === 'service' ? obj.service : null);
    const command = obj.kind === 'host' ? host.check : obj.service.command;
    if (!command) throw new Error(`${key} has no check command`);
    const timeoutMs = obj.kind === 'host' ? host.timeoutMs : obj.service.timeoutMs;
    const started = this.o.clock.now();
    let req;
    try {
      req = buildRequest(inv, host, obj.kind === 'service' ? obj.service.name : null, command, timeoutMs, this.o.runtimeMacros ?? {}, signal);
    } catch (err) {
      return failed(3, `hawatch: cannot build the command of ${key}: ${(err as Error).message}`, started);
    }
    // The executor owns the timeout; this guard only catches an executor that hangs.
    const guardMs = timeoutMs + 5000;
    let guard: TimerHandle | null = null;
    const guardPromise = new Promise<CheckOutcome>((resolve) => {
      guard = this.o.clock.setTimeout(() => resolve(failed(3, `hawatch: the ${host.transport.kind} executor did not answer within ${guardMs / 1000} s`, started, 'timeout')), guardMs);
    });
    const ex = this.executorFor(host);
    try {
      const outcome = await Promise.race([
        ex.run(req).catch((err: unknown) => failed(3, `hawatch: ${host.transport.kind} executor failed: ${(err as Error).message}`, started)),
        guardPromise,
      ]);
      // Aborted while the scheduler runs: its executor was closed; the next run gets a new one.
      if (outcome.failure === 'aborted' && !this.stopped) {
        for (const [id, x] of this.executors) if (x === ex) this.executors.delete(id);
      }
      return outcome;
    } finally {
      if (guard) this.o.clock.clearTimeout(guard);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.tickTimer) this.o.clock.clearTimeout(this.tickTimer);
    for (const e of this.entries.values()) if (e.timer) this.o.clock.clearTimeout(e.timer);
    this.queue.length = 0;
    for (const a of this.aborts) a.abort();
    // An executor that ignores the abort must not hold the shutdown forever.
    const grace = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
    await Promise.race([Promise.allSettled([...this.inflight]), grace(5000)]);
    await Promise.race([Promise.allSettled([...this.executors.values()].map((x) => x.close())), grace(5000)]);
    this.executors.clear();
  }

  /** Next planned run per key (for the API). */
  nextRun(key: string): number | null {
    return this.entries.get(key)?.due ?? null;
  }
}

function failed(state: 0 | 1 | 2 | 3, output: string, started: number, failure: CheckOutcome['failure'] = 'spawn'): CheckOutcome {
  return { state, output, longOutput: '', perfdataText: '', perfdata: [], perfdataErrors: [], durationMs: 0, executedAt: started, failure };
}
