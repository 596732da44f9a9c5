/**
 * Delivers the outbox. Rows are written with the state change (transactional outbox);
 * this loop sends what is due and marks it sent right after the channel accepted it, so a
 * restart resends nothing that was confirmed and loses nothing that was not. A failing
 * channel backs off exponentially per row. Many rows for one contact and channel that fall
 * due together (within the group window) go out as one digest message.
 */
import type { ContactConfig, Inventory } from '../inventory/types.ts';
import type { Clock, TimerHandle } from '../state/clock.ts';
import type { NotificationIntent } from '../state/types.ts';
import type { OutboxRow, Store } from '../store/types.ts';
import { gatewaySmsSender, httpSmsSender, smstoolsSender, type MailSender, type SmsSender } from './channels.ts';
import { digestEmail, digestSms, emailMessage, smsText } from './message.ts';

export interface Channels {
  readonly mail: MailSender | null;
  readonly sms: { readonly gateway: SmsSender | null; readonly http: SmsSender | null; readonly smstools: SmsSender | null };
}

export function channelsFor(inv: Inventory, mail: MailSender | null): Channels {
  const n = inv.notifier;
  return {
    mail,
    sms: {
      gateway: mail && n.smsGateway ? gatewaySmsSender(mail, n.smsGateway) : null,
      http: n.smsHttp ? httpSmsSender(n.smsHttp) : null,
      smstools: n.smstoolsSpool ? smstoolsSender(n.smstoolsSpool) : null,
    },
  };
}

export interface DispatcherOptions {
  readonly store: Store;
  readonly clock: Clock;
  readonly inventory: () => Inventory;
  readonly channels: () => Channels;
  readonly pollMs?: number;
  readonly log?: (level: 'info' | 'warn', msg: string) => void;
}

export interface DispatchStats {
  sent: number;
  failed: number;
  digests: number;
  byChannel: Record<string, number>;
}

export class Dispatcher {
  private readonly o: DispatcherOptions;
  private timer: TimerHandle | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;
  readonly stats: DispatchStats = { sent: 0, failed: 0, digests: 0, byChannel: {} };

  constructor(o: DispatcherOptions) {
    this.o = o;
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Wakes the loop (called when the monitor queued something). */
  poke(): void {
    if (!this.stopped) this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = null;
      void this.flush().finally(() => {
        if (this.stopped) return;
        const next = this.o.store.nextOutboxDue();
        const poll = this.o.pollMs ?? 1000;
        const wait = next === null ? poll : Math.min(poll, Math.max(50, next - this.o.clock.now()));
        if (!this.timer) this.schedule(wait);
      });
    }, ms);
  }

  /** Sends everything due now. Never runs twice at once. */
  flush(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.flushOnce().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async flushOnce(): Promise<void> {
    const inv = this.o.inventory();
    const rows = this.o.store.dueOutbox(this.o.clock.now(), inv.notifier.groupWindowMs, 1000);
    const groups = new Map<string, OutboxRow[]>();
    for (const r of rows) {
      const k = `${r.contact}\u0000${r.channel}`;
      groups.set(k, [...(groups.get(k) ?? []), r]);
    }
    for (const group of groups.values()) {
      if (this.stopped && this.timer === null && !this.running) break;
      await this.deliverGroup(inv, group);
    }
  }

  private async deliverGroup(inv: Inventory, group: OutboxRow[]): Promise<void> {
    const first = group[0] as OutboxRow;
    const contact = inv.contacts.get(first.contact);
    if (!contact) {
      this.o.log?.('warn', `dropping ${group.length} notification(s) for ${first.contact}: no longer in the inventory`);
      this.o.store.markSent(group.map((r) => r.id), this.o.clock.now());
      return;
    }
    if (group.length > inv.notifier.groupThreshold) {
      await this.attempt(inv, contact, group, true);
      return;
    }
    for (const r of group) await this.attempt(inv, contact, [r], false);
  }

  private async attempt(inv: Inventory, contact: ContactConfig, rows: OutboxRow[], digest: boolean): Promise<void> {
    const first = rows[0] as OutboxRow;
    const ids = rows.map((r) => r.id);
    const notes = rows.map((r) => r.notification);
    const messageId = `<hawatch-${ids.join('-').slice(0, 100)}-${first.createdAt}@hawatch>`;
    try {
      await this.send(inv, contact, first.channel, notes, digest, messageId);
      this.o.store.markSent(ids, this.o.clock.now());
      this.stats.sent += rows.length;
      if (digest) this.stats.digests++;
      this.stats.byChannel[first.channel] = (this.stats.byChannel[first.channel] ?? 0) + 1;
      this.o.log?.('info', `sent ${digest ? `digest of ${rows.length}` : first.notification.type} to ${contact.name} by ${first.channel}`);
    } catch (e) {
      const attempts = Math.max(...rows.map((r) => r.attempts)) + 1;
      const backoff = Math.min(inv.notifier.retryMaxMs, inv.notifier.retryInitialMs * 2 ** (attempts - 1));
      this.o.store.markFailed(ids, (e as Error).message, this.o.clock.now() + backoff);
      this.stats.failed += rows.length;
      this.o.log?.('warn', `${first.channel} to ${contact.name} failed (attempt ${attempts}, next in ${Math.round(backoff / 1000)} s): ${(e as Error).message}`);
    }
  }

  private async send(inv: Inventory, contact: ContactConfig, channel: OutboxRow['channel'], notes: NotificationIntent[], digest: boolean, id: string): Promise<void> {
    const ch = this.o.channels();
    const first = notes[0] as NotificationIntent;
    if (channel === 'email') {
      if (!ch.mail || !contact.email) throw new Error('email is not configured (notifications.email)');
      const address = inv.hosts.get(first.hostName)?.address;
      const m = digest ? digestEmail(notes) : emailMessage(first, address);
      await ch.mail.sendMail({ to: contact.email, subject: m.subject, text: m.text, messageId: id });
      return;
    }
    if (!contact.sms || !contact.smsVia) throw new Error(`contact ${contact.name} has no SMS route`);
    const sender = ch.sms[contact.smsVia];
    if (!sender) throw new Error(`SMS route ${contact.smsVia} is not configured`);
    const text = digest ? digestSms(notes, inv.notifier.smsMaxLength) : smsText(first, inv.notifier.smsMaxLength);
    await sender.sendSms(contact.sms, text, id.replace(/[<>]/g, ''));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }
}
