/**
 * The one alert that does not go through the outbox: when the store cannot be written (a
 * full disk), the outbox cannot be written either. Once the condition has lasted
 * `afterMs`, every contact gets one message through any channel that still works (SMTP and
 * HTTP SMS need no local disk). It lives in memory only and is retried until each contact
 * got it once; when the store recovers, the contacts that got it hear that too.
 */
import { plainText } from '../core/text.ts';
import type { Degraded, StoreHealth } from '../core/health.ts';
import type { Monitor } from '../core/monitor.ts';
import type { ContactConfig } from '../inventory/types.ts';
import type { Clock, TimerHandle } from '../state/clock.ts';
import type { Channels } from './dispatcher.ts';
import { fitSeptets, smsBudget, smsClean } from './sms.ts';

export interface DegradedAlertOptions {
  readonly health: StoreHealth;
  readonly monitor: Monitor;
  readonly clock: Clock;
  readonly channels: () => Channels;
  readonly afterMs: number;
  readonly retryMs?: number;
  readonly log?: (level: 'info' | 'warn', msg: string) => void;
}

export class DegradedAlert {
  private readonly o: DegradedAlertOptions;
  private timer: TimerHandle | null = null;
  /** Contacts that got the alert of the current episode. */
  private readonly told = new Set<string>();
  private episode: number | null = null;
  private readonly off: () => void;
  sent = 0;

  constructor(o: DegradedAlertOptions) {
    this.o = o;
    this.off = o.health.on((d) => this.changed(d));
  }

  private changed(d: Degraded | null): void {
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
    if (d) {
      this.episode = d.since;
      this.told.clear();
      this.timer = this.o.clock.setTimeout(() => void this.run(), Math.max(0, d.since + this.o.afterMs - this.o.clock.now()));
      return;
    }
    const was = this.episode;
    this.episode = null;
    if (was !== null && this.told.size) void this.recovered(was, [...this.told]);
    this.told.clear();
  }

  private contacts(): ContactConfig[] {
    return [...this.o.monitor.inventory.contacts.values()];
  }

  private async deliver(c: ContactConfig, subject: string, text: string, sms: string, id: string): Promise<boolean> {
    const ch = this.o.channels();
    let ok = false;
    if (c.email && ch.mail) {
      try {
        await ch.mail.sendMail({ to: c.email, subject, text, messageId: `<${id}@hawatch>` });
        ok = true;
      } catch (e) {
        this.o.log?.('warn', `degraded alert by email to ${c.name} failed: ${(e as Error).message}`);
      }
    }
    const sender = c.sms && c.smsVia ? ch.sms[c.smsVia] : null;
    if (c.sms && sender) {
      try {
        await sender.sendSms(c.sms, sms, id);
        ok = true;
      } catch (e) {
        this.o.log?.('warn', `degraded alert by SMS to ${c.name} failed: ${(e as Error).message}`);
      }
    }
    return ok;
  }

  private async run(): Promise<void> {
    this.timer = null;
    const d = this.o.health.degraded;
    if (!d || d.since !== this.episode) return;
    const minutes = Math.max(1, Math.round((this.o.clock.now() - d.since) / 60_000));
    const problems = this.o.monitor.summary().problems.filter((s) => s.stateType === 'HARD' && !s.ack && s.downtimeDepth === 0);
    const held = this.o.monitor.unsavedCounts();
    const subject = '** hawatch DEGRADED: state and notifications cannot be stored **';
    const lines = [
      '***** hawatch *****',
      '',
      plainText(`hawatch cannot write its database for about ${minutes} min: ${d.message}.`),
      `Since: ${new Date(d.since).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}`,
      `Notifications held in memory until it recovers: ${held.notifications}`,
      '',
      problems.length ? `Current problems (${problems.length}):` : 'No unhandled problems right now.',
      ...problems.slice(0, 50).map((s) => `  ${s.serviceName === null ? s.hostName : `${s.hostName}/${s.serviceName}`} is ${['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'][s.state] ?? s.state}: ${s.output}`),
      problems.length > 50 ? `  and ${problems.length - 50} more` : '',
      '',
      'Free space where the database lives (or fix the error above): hawatch resumes by itself.',
      '',
    ];
    const sms = fitSeptets(smsClean(`hawatch DEGRADED: cannot store state for ${minutes} min, ${problems.length} problems, ${held.notifications} notifications held`), smsBudget(this.o.monitor.inventory.notifier.smsMaxLength, this.o.monitor.inventory.notifier.smsMaxParts ?? 1));
    for (const c of this.contacts()) {
      if (this.told.has(c.name)) continue;
      if (await this.deliver(c, subject, lines.join('\n'), sms, `hawatch-degraded-${d.since}-${c.name.replace(/[^A-Za-z0-9_-]/g, '_')}`)) {
        this.told.add(c.name);
        this.sent++;
        this.o.log?.('info', `degraded alert sent to ${c.name}`);
      }
    }
    if (this.o.health.degraded?.since === this.episode && this.told.size < this.contacts().length) {
      this.timer = this.o.clock.setTimeout(() => void this.run(), this.o.retryMs ?? 30_000);
    }
  }

  private async recovered(since: number, names: string[]): Promise<void> {
    const secs = Math.round((this.o.clock.now() - since) / 1000);
    const text = `hawatch can write its database again after ${secs} s. Held notifications are being delivered now.\n`;
    for (const c of this.contacts().filter((x) => names.includes(x.name))) {
      await this.deliver(c, '** hawatch RECOVERED: state is stored again **', text, `hawatch RECOVERED: state is stored again after ${secs} s`, `hawatch-recovered-${since}-${c.name.replace(/[^A-Za-z0-9_-]/g, '_')}`);
    }
  }

  close(): void {
    this.off();
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}
