// Issue 15 item 6: the problems-first order of the overview's first page without sorting every
// object (http/order.ts) is the order of sortProblemsFirst, for any mix of states, and follows
// state changes and a new inventory.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { problemsFirstOrder, type StatusSource } from '../../server/http/order.ts';
import { sortProblemsFirst } from '../../server/http/views.ts';
import type { CheckStatus } from '../../server/state/types.ts';

const status = fc.record({
  key: fc.stringMatching(/^[a-c]{1,3}(\/[a-c]{1,2})?$/),
  checked: fc.boolean(),
  state: fc.integer({ min: 0, max: 3 }),
  ack: fc.boolean(),
  downtimeDepth: fc.integer({ min: 0, max: 1 }),
  lastStateChange: fc.integer({ min: 0, max: 5 }),
}).map((r) => ({ ...r, kind: r.key.includes('/') ? 'service' : 'host', ack: r.ack ? { author: 'a' } : null }) as unknown as CheckStatus);

function source(list: CheckStatus[], inventory: object = {}): StatusSource & { set(list: CheckStatus[]): void; inventory: object } {
  let map = new Map(list.map((s) => [s.key, s]));
  return {
    inventory,
    allStatuses: () => [...map.values()],
    status: (k) => map.get(k),
    set(l) {
      map = new Map(l.map((s) => [s.key, s]));
    },
  };
}
const unique = (l: CheckStatus[]) => [...new Map(l.map((s) => [s.key, s])).values()];

describe('problems-first order without a full sort', () => {
  it('equals sortProblemsFirst for any statuses', () => {
    fc.assert(
      fc.property(fc.array(status, { maxLength: 60 }), (raw) => {
        const list = unique(raw);
        expect(problemsFirstOrder()(source(list))).toEqual(sortProblemsFirst(list).map((s) => s.key));
      }),
      { numRuns: 300 },
    );
  });

  it('follows state changes with the keys sorted once, and objects added or a new inventory', () => {
    fc.assert(
      fc.property(fc.array(status, { minLength: 1, maxLength: 40 }), fc.array(status, { maxLength: 40 }), (a, b) => {
        const order = problemsFirstOrder();
        const first = unique(a);
        const src = source(first);
        expect(order(src)).toEqual(sortProblemsFirst(first).map((s) => s.key));
        // Same inventory, states changed, some objects added (without a reload).
        const next = unique([...first.map((s, i) => (i % 2 ? { ...s, checked: true, state: (s.state + 1) % 4 } : s)), ...b]);
        src.set(next);
        expect(order(src)).toEqual(sortProblemsFirst(next).map((s) => s.key));
        // A new inventory with fewer objects.
        const fewer = next.slice(0, Math.ceil(next.length / 2));
        const src2 = source(fewer, {});
        expect(order(src2)).toEqual(sortProblemsFirst(fewer).map((s) => s.key));
      }),
      { numRuns: 200 },
    );
  });
});
