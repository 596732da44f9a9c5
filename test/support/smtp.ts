/**
 * A real SMTP server (smtp-server) on loopback that keeps every message it is given: what
 * the tests and bench:ha send hawatch's notifications to. One place for the set-up each
 * test file used to repeat (no STARTTLS or AUTH, a queue id in the answer, headers unfolded,
 * a quoted-printable body decoded).
 */
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  /** Date.now() when the message was complete. */
  readonly at: number;
  readonly raw: string;
  readonly subject: string;
  /** The To header; the envelope's recipients are in rcptTo. */
  readonly to: string;
  readonly rcptTo: readonly string[];
  readonly messageId: string;
  /** The body, quoted-printable soft breaks and =XX escapes decoded when the mail says so. */
  readonly text: string;
  header(name: string): string;
}

export interface SmtpSinkOptions {
  /** Default: a free port chosen by the kernel. */
  readonly port?: number;
  readonly host?: string;
  /** Called for each message before it is acknowledged (a test may act in between). */
  readonly onMail?: (m: ReceivedMail) => void;
}

export interface SmtpSink {
  readonly port: number;
  readonly mails: ReceivedMail[];
  readonly server: SMTPServer;
  subjects(): string[];
  count(subject: string): number;
  close(): Promise<void>;
}

/** The value of one header (folded lines joined), '' when absent. */
export function mailHeader(raw: string, name: string): string {
  const head = raw.split(/\r?\n\r?\n/)[0]?.replace(/\r?\n[ \t]+/g, ' ') ?? '';
  return new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(head)?.[1]?.trim() ?? '';
}

function body(raw: string): string {
  const text = raw.replace(/^[\s\S]*?\r?\n\r?\n/, '');
  if (!/quoted-printable/i.test(mailHeader(raw, 'Content-Transfer-Encoding'))) return text;
  return text.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
}

export async function startSmtpSink(o: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const mails: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const m: ReceivedMail = {
          at: Date.now(),
          raw,
          subject: mailHeader(raw, 'Subject'),
          to: mailHeader(raw, 'To'),
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          messageId: mailHeader(raw, 'Message-ID'),
          text: body(raw),
          header: (name) => mailHeader(raw, name),
        };
        mails.push(m);
        try {
          o.onMail?.(m);
        } finally {
          cb(null, `queued as Q${mails.length}`);
        }
      });
    },
  });
  // A client resetting its connection must not kill the test process.
  server.on('error', () => undefined);
  const host = o.host ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    server.server.once('error', onError);
    server.listen(o.port ?? 0, host, () => {
      server.server.off('error', onError);
      resolve((server.server.address() as { port: number }).port);
    });
  });
  return {
    port,
    mails,
    server,
    subjects: () => mails.map((m) => m.subject),
    count: (subject) => mails.filter((m) => m.subject === subject).length,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
