// Notification texts, SMS channels (smstools spool, email gateway, HTTP templates) and the
// calendar schedules (node-cron) for recurring downtime and the daily summary.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startCron, summaryText } from '../../server/core/cron.ts';
import { Monitor } from '../../server/core/monitor.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { fillTemplate, gatewaySmsSender, smstoolsSender, type MailMessage } from '../../server/notify/channels.ts';
import { digestSms, emailMessage, smsText } from '../../server/notify/message.ts';
import { systemClock } from '../../server/state/clock.ts';
import type { NotificationIntent } from '../../server/state/types.ts';
import { openSqliteStore } from '../../server/store/sqlite.ts';

const dir = mkdtempSync(join(tmpdir(), 'hawatch-notify-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const note = (over: Partial<NotificationIntent> = {}): NotificationIntent => ({
  type: 'PROBLEM', key: 'db1/drbd', kind: 'service', hostName: 'db1', serviceName: 'drbd', state: 2, stateName: 'CRITICAL',
  output: 'DRBD CRITICAL - r0 StandAlone', at: Date.UTC(2025, 0, 6, 12, 0, 0), number: 1, ...over,
});

describe('messages', () => {
  it('renders emails like Nagios notify-service-by-email', () => {
    const m = emailMessage(note(), '192.0.2.11');
    expect(m.subject).toBe('** PROBLEM Service Alert: db1/drbd is CRITICAL **');
    expect(m.text).toContain('Notification Type: PROBLEM\n\nService: drbd\nHost: db1\nAddress: 192.0.2.11\nState: CRITICAL\n\nDate/Time: 2025-01-06 12:00:00 UTC');
    const h = emailMessage(note({ kind: 'host', serviceName: null, key: 'db1', stateName: 'DOWN', type: 'ACKNOWLEDGEMENT', author: 'ann', comment: 'on it' }), undefined);
    expect(h.subject).toBe('** ACKNOWLEDGEMENT Host Alert: db1 is DOWN **');
    expect(h.text).toContain('Author: ann\nComment: on it');
  });

  it('keeps SMS short and folds a burst into one line with a count', () => {
    expect(smsText(note({ output: 'x'.repeat(300) }), 160)).toHaveLength(160);
    const burst = Array.from({ length: 40 }, (_, i) => note({ hostName: `web${i}`, key: `web${i}/http`, serviceName: 'http' }));
    const text = digestSms(burst, 160);
    expect(text.length).toBeLessThanOrEqual(160);
    expect(text).toMatch(/^hawatch 40 PROBLEM: web0\/http CRITICAL, web1\/http CRITICAL, .* \(\+\d+ more\)$/);
  });
});

describe('SMS channels', () => {
  it('smstools: one complete spool file per message, no half-written file visible', async () => {
    const spool = join(dir, 'outgoing');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(spool);
    await smstoolsSender(spool).sendSms('+491511234567', 'PROBLEM db1/drbd CRITICAL', 'hawatch-7');
    const files = readdirSync(spool);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^hawatch-hawatch-7-[0-9a-f]{8}$/);
    expect(readFileSync(join(spool, files[0] as string), 'utf8')).toBe('To: 491511234567\n\nPROBLEM db1/drbd CRITICAL\n');
  });

  it('email gateway: the number goes into the gateway address', async () => {
    const sent: MailMessage[] = [];
    await gatewaySmsSender({ sendMail: async (m) => void sent.push(m), close: () => {} }, '{number}@sms.example.net').sendSms('+4915112', 'hi', 'id1');
    expect(sent[0]).toMatchObject({ to: '4915112@sms.example.net', text: 'hi' });
  });

  it('HTTP templates escape values for JSON and for forms (Twilio preset)', () => {
    expect(JSON.parse(fillTemplate('{"to": {{number}}, "text": {{message}}}', 'application/json', { number: '+1', message: 'a "quoted" \n line' }))).toEqual({ to: '+1', text: 'a "quoted" \n line' });
    expect(fillTemplate('To={{number}}&From={{from}}&Body={{message}}', 'application/x-www-form-urlencoded', { number: '+1555', from: '+1666', message: 'a&b=c' })).toBe('To=%2B1555&From=%2B1666&Body=a%26b%3Dc');
  });

  it('the twilio preset needs from and refuses credentials in the URL', () => {
    const text = (http: string) => `notifications:\n  sms:\n    http: ${http}\n`;
    const run = () => loadInventory(text('{ preset: twilio, url: "https://user:pw@api.twilio.com/x" }'), 't.yaml');
    expect(run).toThrow(/t\.yaml:3:11: notifications\.sms\.http: the twilio preset needs from:/);
    expect(run).toThrow(/notifications\.sms\.http\.url: no credentials in the URL: use auth_header_env or auth_header_file/);
  });
});

describe('calendar schedules (node-cron)', () => {
  it('a recurring downtime window schedules a fixed downtime; the daily summary is queued', async () => {
    const inv = loadInventory(`
notifications:
  email: { smtp: { host: 127.0.0.1, port: 25, security: none } }
  daily_summary: { cron: "* * * * * *", contacts: [ops] }
contacts:
  ops: { email: ops@example.org }
hosts:
  db1: { address: 192.0.2.1 }
services:
  - { name: drbd, host: db1, command: check_drbd }
downtimes:
  - { name: backups, cron: "* * * * * *", duration: 10m, services: [db1/drbd], comment: nightly backup }
`);
    const store = openSqliteStore(':memory:');
    const monitor = new Monitor(inv, store, systemClock());
    const stop = startCron(monitor, inv, () => {});
    try {
      const until = Date.now() + 4000;
      while (Date.now() < until && (monitor.downtimes().length === 0 || store.outboxCounts().pending === 0)) await new Promise((r) => setTimeout(r, 100));
    } finally {
      await stop();
    }
    const d = monitor.downtimes('db1/drbd')[0];
    expect(d).toMatchObject({ fixed: true, author: 'hawatch (recurring)', comment: 'backups: nightly backup' });
    expect((d?.end ?? 0) - (d?.start ?? 0)).toBe(600_000);
    expect(monitor.status('db1/drbd')?.downtimeDepth).toBeGreaterThanOrEqual(1);
    const row = store.recentOutbox(10).find((r) => r.notification.type === 'CUSTOM');
    expect(row?.notification.output).toBe(summaryText(monitor));
    expect(row?.notification.output).toMatch(/^Hosts: 1 UP\nServices: 1 PENDING/);
    store.close();
  });
});
