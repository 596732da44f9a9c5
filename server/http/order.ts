/**
 * The problems-first order of every object (views.ts problemRank), built for the first page of
 * the overview without sorting all of them: 10,000 objects sorted with a wrapper object each
 * held the event loop a few ms on an idle machine and far more on a loaded one, and left
 * 10,000 short-lived objects for the garbage collector at the start of every page walk.
 *
 * The keys are sorted once per inventory (a reload makes a new one); each call then walks them
 * in key order and puts each object in its rank's bucket: OK and pending objects need no
 * further sort (their tie-break is the key), only the problems are sorted, by since and key,
 * and they are few. The result is the same order as sortProblemsFirst.
 */
import type { CheckStatus } from '../state/types.ts';
import { problemRank } from './views.ts';

export interface StatusSource {
  readonly inventory: object;
  allStatuses(): CheckStatus[];
  status(key: string): CheckStatus | undefined;
}

export function problemsFirstOrder(): (m: StatusSource) => string[] {
  let sorted: { inv: object; keys: string[] } | null = null;
  const order = (m: StatusSource, retry: boolean): string[] => {
    const all = m.allStatuses();
    if (!sorted || sorted.inv !== m.inventory) {
      const keys = all.map((s) => s.key);
      keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      sorted = { inv: m.inventory, keys };
    }
    const problems: CheckStatus[] = [];
    const pending: string[] = [];
    const ok: string[] = [];
    let known = 0;
    for (const k of sorted.keys) {
      const s = m.status(k);
      if (!s) continue;
      known++;
      const rank = problemRank(s);
      if (rank === 9) ok.push(k);
      else if (rank === 8) pending.push(k);
      else problems.push(s);
    }
    // An object the cached keys do not have (added without a new inventory): sort the keys again.
    if (known !== all.length && retry) {
      sorted = null;
      return order(m, false);
    }
    // Stable: equal rank and since keep the key order of the walk.
    problems.sort((a, b) => problemRank(a) - problemRank(b) || a.lastStateChange - b.lastStateChange);
    const out = problems.map((s) => s.key);
    for (const k of pending) out.push(k);
    for (const k of ok) out.push(k);
    return out;
  };
  return (m) => order(m, true);
}
