/** Notification texts, pure: Nagios-style email and short SMS, single and grouped. */
import type { NotificationIntent } from '../state/types.ts';
import { plainText } from '../core/text.ts';
import { composeSms, fitSeptets, gsmSeptets, smsClean } from './sms.ts';

export interface RenderedMessage {
  readonly subject: string;
  readonly text: string;
}

export function objectName(n: NotificationIntent): string {
  return n.serviceName === null ? n.hostName : `${n.hostName}/${n.serviceName}`;
}

function when(at: number): string {
  return new Date(at).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

export function emailMessage(n: NotificationIntent, address: string | undefined): RenderedMessage {
  if (n.type === 'CUSTOM') return { subject: plainText(`hawatch: ${n.serviceName ?? 'message'}`), text: `${n.output}\n` };
  const isHost = n.kind === 'host';
  const subject = isHost
    ? `** ${n.type} Host Alert: ${n.hostName} is ${n.stateName} **`
    : `** ${n.type} Service Alert: ${n.hostName}/${n.serviceName} is ${n.stateName} **`;
  const lines = ['***** hawatch *****', '', `Notification Type: ${n.type}`, ''];
  if (!isHost) lines.push(`Service: ${n.serviceName}`);
  lines.push(`Host: ${n.hostName}`);
  if (address) lines.push(`Address: ${address}`);
  lines.push(`State: ${n.stateName}`, '', `Date/Time: ${when(n.at)}`);
  if (n.number > 0) lines.push(`Notification number: ${n.number}`);
  if (n.author) lines.push('', `Author: ${n.author}`, `Comment: ${n.comment ?? ''}`);
  else if (n.comment) lines.push('', `Comment: ${n.comment}`);
  lines.push('', 'Additional Info:', '', n.output, '');
  // The status line must survive Nagios-style macro stripping (issue 10): names are validated, this is the net.
  return { subject: plainText(subject), text: lines.join('\n') };
}

/**
 * One SMS body in GSM-7 within `maxSeptets` (see sms.ts): state first (with the type when it
 * is not a plain problem), host, service, then the acknowledgement comment and the first
 * words of the output. Output, author and comment come from elsewhere: they pass plainText
 * first, and the body once more after transliteration (which maps curly quotes to straight
 * ones), so no ` ~ $ & | ' " < > reaches an SMS (issue 10 item 10).
 */
export function smsText(n: NotificationIntent, maxSeptets: number): string {
  if (n.type === 'CUSTOM') return fitSeptets(plainText(composeSms({ head: 'hawatch', host: n.serviceName ?? 'message', service: null, note: null, output: plainText(n.output) }, maxSeptets)), maxSeptets);
  const head = n.type === 'PROBLEM' ? n.stateName : `${n.type} ${n.stateName}`;
  const note = n.author ? plainText(`${n.author} ${n.comment ?? ''}`) : n.comment ? plainText(n.comment) : null;
  return fitSeptets(plainText(composeSms({ head, host: n.hostName, service: n.serviceName, note, output: plainText(n.output) }, maxSeptets)), maxSeptets);
}

function countByType(notes: readonly NotificationIntent[]): string {
  const counts = new Map<string, number>();
  for (const n of notes) counts.set(n.type, (counts.get(n.type) ?? 0) + 1);
  return [...counts].map(([t, c]) => `${c} ${t}`).join(', ');
}

/** One message for many notifications at once (a dead switch must not send 200 SMS). */
export function digestEmail(notes: readonly NotificationIntent[]): RenderedMessage {
  const subject = `** hawatch: ${notes.length} notifications (${countByType(notes)}) **`;
  const lines = ['***** hawatch *****', '', `${notes.length} notifications were grouped into this message:`, ''];
  for (const n of notes) lines.push(`${when(n.at)}  ${n.type.padEnd(15)} ${objectName(n)} is ${n.stateName}: ${n.output}`);
  lines.push('');
  return { subject, text: lines.join('\n') };
}

export function digestSms(notes: readonly NotificationIntent[], maxSeptets: number): string {
  const head = smsClean(`hawatch ${countByType(notes)}: `) + ' ';
  const parts = notes.map((n) => smsClean(`${objectName(n)} ${n.stateName}`));
  const len = (s: string) => gsmSeptets(s) ?? s.length;
  let text = head;
  let shown = 0;
  for (const p of parts) {
    const rest = notes.length - shown - 1;
    const tail = rest > 0 ? ` (+${rest} more)` : '';
    const candidate = `${text}${shown ? ', ' : ''}${p}`;
    if (len(candidate) + len(tail) > maxSeptets) break;
    text = candidate;
    shown++;
  }
  if (shown < notes.length) text += `${shown ? ' ' : ''}(+${notes.length - shown} more)`;
  return fitSeptets(plainText(text.trim()), maxSeptets);
}
