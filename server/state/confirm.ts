/**
 * Confirmation of pushed problems (inventory: `confirm: { results: 2, within: 5s }` on a
 * service). An agent's watcher pushes a result the moment its source changes; a source that
 * flaps for a second must not page anyone. So a pushed problem for a service with `confirm`
 * starts a confirmation: the server re-checks the service at once (an active check, through
 * its transport), and while the confirmation runs the service's max_check_attempts is
 * `results`, whatever it is otherwise. The problem goes HARD (and notifies) only when
 * `results` problem results in a row arrive within `within` of the pushed one (the push
 * counts as the first); an OK among them is a soft recovery, silent. When `within` passes
 * without confirmation the service's own policy applies again (its retries go on as usual).
 *
 * Pure bookkeeping: the monitor asks policyFor() when it applies any result of the service
 * and calls settle() after; the passive route calls onPassive() and runs the re-check.
 */
import type { CheckPolicy, CheckStatus } from './types.ts';

export interface ConfirmSpec {
  readonly results: number;
  readonly withinMs: number;
}

export class ConfirmTracker {
  /** Confirmations running, by object key: when the pushed problem arrived. */
  private readonly pending = new Map<string, number>();
  private readonly specOf: (key: string) => ConfirmSpec | undefined;

  constructor(specOf: (key: string) => ConfirmSpec | undefined) {
    this.specOf = specOf;
  }

  /**
   * A passive (pushed) result is about to be applied. Returns true when a confirmation starts:
   * the caller re-checks the object at once. A problem that is already HARD, or an OK, needs none.
   */
  onPassive(key: string, state: number, current: CheckStatus, now: number): boolean {
    const spec = this.specOf(key);
    if (!spec || state === 0) return false;
    if (current.checked && current.state !== 0 && current.stateType === 'HARD') return false;
    const since = this.pending.get(key);
    if (since !== undefined && now - since <= spec.withinMs) return false; // one running already
    this.pending.set(key, now);
    return true;
  }

  /** The policy a result of `key` is applied with now. */
  policyFor(key: string, base: CheckPolicy, now: number): CheckPolicy {
    const since = this.pending.get(key);
    if (since === undefined) return base;
    const spec = this.specOf(key);
    if (!spec || now - since > spec.withinMs) {
      this.pending.delete(key);
      return base;
    }
    return { ...base, maxCheckAttempts: spec.results };
  }

  /** After a result was applied: a recovery or a HARD state ends the confirmation. */
  settle(key: string, status: CheckStatus): void {
    if (!this.pending.has(key)) return;
    if (status.state === 0 || status.stateType === 'HARD') this.pending.delete(key);
  }

  /** Confirmations running now (for tests and the status of the server). */
  get running(): number {
    return this.pending.size;
  }
}
