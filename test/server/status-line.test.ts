// Issue 10 item 10: the status line of every notification (mail subject, SMS) survives
// Nagios-style macro stripping: none of ` ~ $ & | ' " < > (and no ;), whatever a plugin
// printed or an operator typed into an acknowledgement, and names that could carry them are
// refused by the inventory.
import { describe, expect, it } from 'vitest';
import { FORBIDDEN } from '../../server/core/text.ts';
import { InventoryError, loadInventory } from '../../server/inventory/load.ts';
import { digestEmail, digestSms, emailMessage, smsText } from '../../server/notify/message.ts';
import type { NotificationIntent } from '../../server/state/types.ts';

const NASTY = `CRIT - 'r0' "down" <x> & $HOME | \`id\` ~root; 5 > 3`;
const base: NotificationIntent = { type: 'PROBLEM', key: 'cluster/one vip owner', kind: 'service', hostName: 'cluster', serviceName: 'one vip owner', state: 2, stateName: 'CRITICAL', output: NASTY, at: 0, number: 1 };
const notes: NotificationIntent[] = [
  base,
  { ...base, type: 'ACKNOWLEDGEMENT', author: `o'brien <ops>`, comment: `"working" on it & more | $x` },
  { ...base, type: 'CUSTOM', serviceName: `daily 'summary' <x>`, kind: 'service' },
  { ...base, kind: 'host', serviceName: null, key: 'db1', hostName: 'db1', stateName: 'DOWN', state: 1 },
];

describe('notification status lines', () => {
  it('mail subjects and SMS texts (single and digest) carry none of the stripped characters', () => {
    for (const n of notes) {
      expect(emailMessage(n, '192.0.2.1').subject, n.type).not.toMatch(FORBIDDEN);
      expect(smsText(n, 160), n.type).not.toMatch(FORBIDDEN);
    }
    expect(digestEmail(notes).subject).not.toMatch(FORBIDDEN);
    expect(digestSms(notes, 160)).not.toMatch(FORBIDDEN);
    // The meaning stays: the state and the object first, then the plugin words.
    expect(smsText(base, 160)).toBe('CRITICAL cluster/one vip owner: CRIT - r0 down below x above and HOME / id root, 5 above 3');
  });

  it('rule and virtual host names that would reach a subject with such characters are refused', () => {
    const load = (name: string, host = 'cluster') => () => loadInventory(`
hosts: { a: { local: true } }
services: [{ name: s, host: a, command: x }]
cluster_rules: [{ name: "${name}", host: "${host}", kind: quorum, members: [a/s] }]
`);
    expect(load(`vip <owner>`)).toThrow(InventoryError);
    expect(load(`vip owner`, `clu'ster`)).toThrow(/virtual host name is letters, digits/);
    expect(load(`vip owner (lb pair)`)).not.toThrow();
  });
});
