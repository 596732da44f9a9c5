// Issue 9 item 14: after an SMTP outage the backlog of one object arrives in the order it
// happened. A real SMTP server (smtp-server) is down (port closed), then up; the server runs
// with a fake clock so the 35 s outage takes a few real seconds.
import { describe, expect, it } from 'vitest';
import { createRuntime } from '../../server/core/runtime.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { FakeClock } from '../../server/state/clock.ts';
import { freePort } from '../support/ports.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp.ts';
import { FakeExecutors, settle , syncStore } from './helpers.ts';

const startSmtp = (port: number, subjects: string[]): Promise<SmtpSink> => startSmtpSink({ port, onMail: (m) => subjects.push(m.subject) });

describe('delivery order after an outage', () => {
  it('PROBLEM, RECOVERY, PROBLEM, RECOVERY after 35 s without SMTP arrive in that order', async () => {
    const port = await freePort(); // nothing listens yet: connection refused
    const clock = new FakeClock();
    const fx = new FakeExecutors();
    const rt = await createRuntime({
      inventory: loadInventory(`
defaults: { check_interval: 1h, max_check_attempts: 1, notification_interval: 0 }
notifications:
  email: { smtp: { host: 127.0.0.1, port: ${port}, security: none, timeout: 2s }, from: hawatch@test.invalid }
  group_window: 0s
  group_threshold: 10
  retry: { initial: 5s, max: 60s }
contacts:
  ops: { email: ops@test.invalid }
hosts:
  db1: { address: 127.0.0.1, contacts: [ops] }
services:
  - { name: drbd, host: db1, command: check_drbd }
`),
      executorFactory: fx.factory,
      database: ':memory:',
      clock,
      dispatchPollMs: 500,
    });
    // One fake second per step, with real time in between for the SMTP connections.
    const run = async (ms: number) => {
      for (let t = 0; t < ms; t += 1000) {
        clock.advance(1000);
        await settle();
        await new Promise((r) => setTimeout(r, 15));
        await rt.dispatcher.flush();
      }
    };
    const result = async (code: number) => {
      fx.set('db1 check_drbd', code, code ? 'DRBD CRITICAL - r0 StandAlone' : 'DRBD OK - r0 UpToDate');
      await rt.scheduler.recheck('db1/drbd');
    };
    await run(2000);
    await result(2); // PROBLEM
    await run(9000);
    await result(0); // RECOVERY
    await run(9000);
    await result(2); // PROBLEM
    await run(9000);
    await result(0); // RECOVERY
    await run(8000); // 35 s since the first alert, SMTP still down
    expect(rt.dispatcher.stats.sent).toBe(0);
    expect(rt.dispatcher.stats.failed).toBeGreaterThan(0);
    expect(syncStore(rt.store).outboxCounts().pending).toBe(4);
    const subjects: string[] = [];
    const smtp = await startSmtp(port, subjects);
    try {
      await run(70_000);
      expect(subjects).toEqual([
        '** PROBLEM Service Alert: db1/drbd is CRITICAL **',
        '** RECOVERY Service Alert: db1/drbd is OK **',
        '** PROBLEM Service Alert: db1/drbd is CRITICAL **',
        '** RECOVERY Service Alert: db1/drbd is OK **',
      ]);
    } finally {
      await rt.stop();
      await smtp.close();
    }
  }, 60_000);
});
