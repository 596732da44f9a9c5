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
import type { AnyStore, OutboxRow } from '../store/types.ts';
import { errorReason, StoreHealth } from '../core/health.ts';
import { gatewaySmsSender, httpSmsSender, smstoolsSender, type MailSender, type SmsSender } from './channels.ts';
import { digestEmail, digestSms, emailMessage, smsText } from './message.ts';
import { smsBudget } from './sms.ts';

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
  readonly store: AnyStore;
  readonly clock: Clock;
  readonly inventory: () => Inventory;
  readonly channels: () => Channels;
  readonly pollMs?: number;
  readonly log?: (level: 'info' | 'warn', msg: string) => void;
  /** Where store failures are reported (degraded state); default a private one. */
  readonly health?: StoreHealth;
}

export interface DispatchStats {
  sent: number;
  failed: number;
  digests: number;
  byChannel: Record<string, number>;
  /** Rows resent after a restart because a send had started but was never recorded. */
  possibleDuplicates: number;
}

/** The object a row is about: notifications of one object reach one contact in order. */
const objectOf = (r: OutboxRow): string => r.notification.key;

export class Dispatcher {
  private readonly o: DispatcherOptions;
  private readonly health: StoreHealth;
  private timer: TimerHandle | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;
  /** Sent, but recording it failed (full disk): never sent again by this process; recorded as soon as the store takes it. */
  private readonly sentUnrecorded = new Map<number, number>();
  /** A failed send whose backoff could not be recorded: held in memory instead. */
  private readonly heldUntil = new Map<number, number>();
  /** Rows this process attempted itself: an attempt mark on them is not a crash left-over. */
  private readonly attemptedHere = new Set<number>();
  /** The provider's answer per row sent and not yet recorded. */
  private readonly providerIds = new Map<number, string>();
  readonly stats: DispatchStats = { sent: 0, failed: 0, digests: 0, byChannel: {}, possibleDuplicates: 0 };

  constructor(o: DispatcherOptions) {
    this.o = o;
    this.health = o.health ?? new StoreHealth(o.clock);
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
        if (this.stopped || this.timer) return;
        const wait = this.nextWait();
        // A synchronous store (SQLite) schedules at once, as before; PostgreSQL answers later.
        if (typeof wait === 'number') this.schedule(wait);
        else
          void wait.then((w) => {
            if (!this.stopped && !this.timer) this.schedule(w);
          });
      });
    }, ms);
  }

  private nextWait(): number | Promise<number> {
    const poll = this.o.pollMs ?? 1000;
    if (this.health.degraded) return Math.max(poll, this.health.backoffMs());
    const failed = (e: unknown) => {
      this.health.fail('reading the outbox', e);
      return Math.max(poll, this.health.backoffMs());
    };
    const wait = (next: number | null) => (next === null ? poll : Math.min(poll, Math.max(50, next - this.o.clock.now())));
    try {
      const next = this.o.store.nextOutboxDue();
      return next instanceof Promise ? next.then(wait, failed) : wait(next);
    } catch (e) {
      return failed(e);
    }
  }

  /** Sends everything due now. Never runs twice at once, never rejects. */
  flush(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.flushOnce()
      .catch((e: unknown) => {
        // A programming error must not end the loop (or the process) either.
        this.o.log?.('warn', `notification delivery failed: ${errorReason(e)}`);
      })
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  /** Records sends that could not be recorded before; true when none is left. */
  private async recordSent(): Promise<boolean> {
    if (this.sentUnrecorded.size === 0) return true;
    const byTime = new Map<number, number[]>();
    for (const [id, at] of this.sentUnrecorded) byTime.set(at, [...(byTime.get(at) ?? []), id]);
    try {
      for (const [at, ids] of byTime) {
        // The provider's answer (SMTP queue id) goes with the rows that got it.
        const byProvider = new Map<string | undefined, number[]>();
        for (const id of ids) byProvider.set(this.providerIds.get(id), [...(byProvider.get(this.providerIds.get(id)) ?? []), id]);
        for (const [provider, list] of byProvider) await this.o.store.markSent(list, at, provider);
      }
    } catch (e) {
      this.health.fail('recording sent notifications', e);
      return false;
    }
    this.sentUnrecorded.clear();
    this.providerIds.clear();
    return true;
  }

  private async flushOnce(): Promise<void> {
    const inv = this.o.inventory();
    if (this.sentUnrecorded.size) await this.recordSent();
    let rows: OutboxRow[];
    try {
      const got = this.o.store.pendingOutbox(1000);
      rows = got instanceof Promise ? await got : got;
    } catch (e) {
      this.health.fail('reading the outbox', e);
      return;
    }
    const groups = new Map<string, OutboxRow[]>();
    for (const r of rows) {
      if (this.sentUnrecorded.has(r.id)) continue;
      const k = `${r.contact}\u0000${r.channel}`;
      groups.set(k, [...(groups.get(k) ?? []), r]);
    }
    for (const group of groups.values()) {
      if (this.stopped && this.timer === null && !this.running) break;
      await this.deliverGroup(inv, group);
    }
  }

  private dueAt(r: OutboxRow): number {
    return Math.max(r.nextAttemptAt, this.heldUntil.get(r.id) ?? 0);
  }

  private async deliverGroup(inv: Inventory, pending: OutboxRow[]): Promise<void> {
    const first = pending[0] as OutboxRow;
    const contact = inv.contacts.get(first.contact);
    if (!contact) {
      this.o.log?.('warn', `dropping ${pending.length} notification(s) for ${first.contact}: no longer in the inventory`);
      try {
        await this.o.store.markSent(pending.map((r) => r.id), this.o.clock.now());
      } catch (e) {
        this.health.fail('dropping notifications of a removed contact', e);
      }
      return;
    }
    // In order per object: a row waits while an earlier row of its object is not due (backing
    // off after a failure), so PROBLEM, RECOVERY, PROBLEM never arrive as RECOVERY, PROBLEM, PROBLEM.
    const now = this.o.clock.now();
    const blocked = new Set<string>();
    const due: OutboxRow[] = [];
    for (const r of pending) {
      if (blocked.has(objectOf(r))) continue;
      if (this.dueAt(r) > now + inv.notifier.groupWindowMs) {
        blocked.add(objectOf(r));
        continue;
      }
      due.push(r);
    }
    if (!due.some((r) => this.dueAt(r) <= now)) return;
    // A send a previous process started but never recorded: the same message again, same Message-ID.
    const retried = new Map<string, OutboxRow[]>();
    const fresh: OutboxRow[] = [];
    for (const r of due) {
      if (r.attempt && !this.attemptedHere.has(r.id)) retried.set(r.attempt.messageId, [...(retried.get(r.attempt.messageId) ?? []), r]);
      else fresh.push(r);
    }
    for (const [messageId, rows] of retried) {
      if (!(await this.attempt(inv, contact, rows, rows.length > 1, messageId, true))) return;
    }
    if (fresh.length > inv.notifier.groupThreshold) {
      await this.attempt(inv, contact, fresh, true, null, false);
      return;
    }
    const failed = new Set<string>();
    for (const r of fresh) {
      if (failed.has(objectOf(r))) continue;
      if (!(await this.attempt(inv, contact, [r], false, null, false))) failed.add(objectOf(r));
    }
  }

  /** One message for these rows; true when it was delivered. */
  private async attempt(inv: Inventory, contact: ContactConfig, rows: OutboxRow[], digest: boolean, previousId: string | null, possibleDuplicate: boolean): Promise<boolean> {
    const first = rows[0] as OutboxRow;
    const ids = rows.map((r) => r.id);
    const notes = rows.map((r) => r.notification);
    const messageId = previousId ?? `<hawatch-${ids.join('-').slice(0, 100)}-${first.createdAt}@hawatch>`;
    if (previousId === null) {
      // The mark comes before the send: a crash after the send leaves it, and the next start
      // resends with the same Message-ID, flagged, instead of a silent duplicate. No mark, no send.
      try {
        await this.o.store.markAttempt(ids, messageId, this.o.clock.now());
      } catch (e) {
        // Several instances: another one holds these rows now (this one was paused past its claim).
        if ((e as Error).name === 'ClaimLost') {
          this.o.log?.('info', (e as Error).message);
          return false;
        }
        this.health.fail('marking notifications as being sent', e);
        return false;
      }
    }
    for (const id of ids) this.attemptedHere.add(id);
    // Several instances: paused between the mark and here past the claim, another instance
    // may be sending these rows already (flagged). Not sent from here then; the row stays
    // marked, so whoever sends it says possible duplicate. Checked with no await before the send.
    if (this.o.store.holdsClaim && !this.o.store.holdsClaim(ids)) {
      this.o.log?.('info', `outbox rows ${ids.join(', ')}: the claim ran out before sending (this instance was paused): left to the instance that takes them`);
      return false;
    }
    let provider: string | undefined;
    try {
      provider = await this.send(inv, contact, first.channel, notes, digest, messageId, possibleDuplicate);
    } catch (e) {
      const attempts = Math.max(...rows.map((r) => r.attempts)) + 1;
      const backoff = Math.min(inv.notifier.retryMaxMs, inv.notifier.retryInitialMs * 2 ** (attempts - 1));
      const next = this.o.clock.now() + backoff;
      this.stats.failed += rows.length;
      this.o.log?.('warn', `${first.channel} to ${contact.name} failed (attempt ${attempts}, next in ${Math.round(backoff / 1000)} s): ${errorReason(e)}`);
      try {
        await this.o.store.markFailed(ids, errorReason(e), next);
        for (const id of ids) this.heldUntil.delete(id);
      } catch (e2) {
        this.health.fail('recording a failed delivery', e2);
        for (const id of ids) this.heldUntil.set(id, next);
      }
      return false;
    }
    const at = this.o.clock.now();
    for (const id of ids) {
      this.heldUntil.delete(id);
      this.sentUnrecorded.set(id, at);
      if (provider) this.providerIds.set(id, provider);
    }
    await this.recordSent();
    this.stats.sent += rows.length;
    if (digest) this.stats.digests++;
    if (possibleDuplicate) this.stats.possibleDuplicates += rows.length;
    this.stats.byChannel[first.channel] = (this.stats.byChannel[first.channel] ?? 0) + 1;
    this.o.log?.('info', `sent ${digest ? `digest of ${rows.length}` : first.notification.type}${possibleDuplicate ? ' (possible duplicate)' : ''} to ${contact.name} by ${first.channel}`);
    return true;
  }

  private async send(inv: Inventory, contact: ContactConfig, channel: OutboxRow['channel'], notes: NotificationIntent[], digest: boolean, id: string, possibleDuplicate: boolean): Promise<string | undefined> {
    const ch = this.o.channels();
    const first = notes[0] as NotificationIntent;
    if (channel === 'email') {
      if (!ch.mail || !contact.email) throw new Error('email is not configured (notifications.email)');
      const address = inv.hosts.get(first.hostName)?.address;
      const m = digest ? digestEmail(notes) : emailMessage(first, address);
      const subject = possibleDuplicate ? `[possible duplicate] ${m.subject}` : m.subject;
      const text = possibleDuplicate ? `${POSSIBLE_DUPLICATE}\n\n${m.text}` : m.text;
      return (await ch.mail.sendMail({ to: contact.email, subject, text, messageId: id })) ?? undefined;
    }
    if (!contact.sms || !contact.smsVia) throw new Error(`contact ${contact.name} has no SMS route`);
    const sender = ch.sms[contact.smsVia];
    if (!sender) throw new Error(`SMS route ${contact.smsVia} is not configured`);
    const max = smsBudget(inv.notifier.smsMaxLength, inv.notifier.smsMaxParts ?? 1) - (possibleDuplicate ? 20 : 0);
    const text = digest ? digestSms(notes, max) : smsText(first, max);
    await sender.sendSms(contact.sms, possibleDuplicate ? `possible duplicate: ${text}` : text, id.replace(/[<>]/g, ''));
    return undefined;
  }

  /** How many sends wait to be recorded (degraded store). */
  get unrecorded(): number {
    return this.sentUnrecorded.size;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
    await this.running;
    // Last chance before the process ends; what still cannot be recorded keeps its attempt
    // mark, so the next start resends it once, flagged, with the same Message-ID.
    if (!(await this.recordSent())) {
      this.o.log?.('warn', `${this.sentUnrecorded.size} sent notification(s) could not be recorded as sent: the next start resends them flagged as possible duplicates, same Message-ID`);
    }
  }
}

const POSSIBLE_DUPLICATE = 'Possible duplicate: hawatch stopped after starting to send this message and before it could record it as sent. Same Message-ID as the first copy.';
