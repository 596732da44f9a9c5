/**
 * The hold-down of cluster rules, pure. A transient state (a VRRP transition, a failover in
 * progress) must not wake anyone: a rule's bad judgement goes HARD only after
 * `hold_down.results` bad judgements in a row (its max_check_attempts) AND `hold_down.time`
 * since the first of them. While it is held down (SOFT), the rule's members are re-checked
 * every retry_interval, so the count grows on fresh results, never on the same old ones.
 */
import type { ClusterRuleConfig } from '../inventory/types.ts';
import type { CheckPolicy, CheckStatus, ResultInput } from './types.ts';

export class RuleHoldDown {
  /** Rule key -> when its current run of bad judgements began (memory only: a restart restarts the time). */
  private readonly badSince = new Map<string, number>();
  /** Rule key -> when its members were last asked for a re-check. */
  private readonly asked = new Map<string, number>();

  /** The policy to judge this result with: the time part holds the state SOFT, whatever the count. */
  policyFor(rule: ClusterRuleConfig, prev: CheckStatus, result: ResultInput, now: number): CheckPolicy {
    if (result.state === 0) {
      this.badSince.delete(rule.key);
      return rule.policy;
    }
    const wasBad = prev.checked && prev.state !== 0;
    let since = this.badSince.get(rule.key);
    if (since === undefined || !wasBad) {
      since = now;
      this.badSince.set(rule.key, since);
    }
    if (now - since < rule.holdDown.timeMs) return { ...rule.policy, maxCheckAttempts: Number.MAX_SAFE_INTEGER };
    return rule.policy;
  }

  /** Member keys to re-check now: those of rules held down (bad and SOFT) whose retry is due. */
  due(rules: Iterable<ClusterRuleConfig>, status: (key: string) => CheckStatus | undefined, now: number): string[] {
    const keys = new Set<string>();
    for (const r of rules) {
      const s = status(r.key);
      if (!s || !s.checked || s.state === 0 || s.stateType !== 'SOFT') {
        this.asked.delete(r.key);
        continue;
      }
      const last = this.asked.get(r.key) ?? s.lastStateChange;
      if (now - last < r.policy.retryIntervalMs) continue;
      this.asked.set(r.key, now);
      for (const m of r.members) keys.add(m.key);
    }
    return [...keys];
  }

  forget(keep: ReadonlySet<string>): void {
    for (const m of [this.badSince, this.asked]) for (const k of [...m.keys()]) if (!keep.has(k)) m.delete(k);
  }
}
