/**
 * Delivery channels. Secrets (SMTP password, SMS provider auth header) are read from an
 * environment variable or a file at send time, never from the inventory text, never logged.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HttpSmsConfig, SmtpConfig } from '../inventory/types.ts';

export interface MailMessage {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  /** Stable per outbox row, so a receiver can spot a duplicate after a crash. */
  readonly messageId: string;
}

export interface MailSender {
  /** May answer the provider's id of the message (the SMTP server's 250 reply, with its queue id). */
  sendMail(m: MailMessage): Promise<void | string>;
  close(): void;
}

export interface SmsSender {
  sendSms(number: string, text: string, id: string): Promise<void>;
}

export class SecretError extends Error {
  override name = 'SecretError';
}

export async function readSecret(env: string | null, file: string | null, what: string): Promise<string | null> {
  if (env !== null) {
    const v = process.env[env];
    if (v === undefined || v === '') throw new SecretError(`${what}: environment variable ${env} is not set`);
    return v;
  }
  if (file !== null) {
    try {
      return (await readFile(file, 'utf8')).trim();
    } catch (e) {
      throw new SecretError(`${what}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  return null;
}

export async function createSmtpSender(cfg: SmtpConfig): Promise<MailSender> {
  const nodemailer = await import('nodemailer');
  const ca = cfg.caFile ? await readFile(cfg.caFile, 'utf8') : undefined;
  let transport: ReturnType<typeof nodemailer.createTransport> | null = null;
  const make = async () => {
    const pass = await readSecret(cfg.passwordEnv, cfg.passwordFile, 'SMTP password');
    return nodemailer.createTransport({
      host: cfg.host,
      port: cfg.port,
      secure: cfg.security === 'tls',
      requireTLS: cfg.security === 'starttls',
      ignoreTLS: cfg.security === 'none',
      auth: cfg.user ? { user: cfg.user, pass: pass ?? '' } : undefined,
      tls: ca ? { ca, servername: cfg.host } : { servername: cfg.host },
      connectionTimeout: cfg.timeoutMs,
      greetingTimeout: cfg.timeoutMs,
      socketTimeout: cfg.timeoutMs,
    });
  };
  return {
    async sendMail(m) {
      transport ??= await make();
      try {
        const info = (await transport.sendMail({ from: cfg.from, to: m.to, subject: m.subject, text: m.text, messageId: m.messageId })) as { response?: string };
        return typeof info?.response === 'string' ? info.response : undefined;
      } catch (e) {
        transport.close();
        transport = null; // the next try starts from a fresh connection (and re-reads the secret)
        throw new Error(`SMTP ${cfg.host}:${cfg.port}: ${(e as Error).message}`);
      }
    },
    close() {
      transport?.close();
    },
  };
}

/** Email-to-SMS: the gateway address pattern "{number}@domain", digits only. */
export function gatewaySmsSender(mail: MailSender, pattern: string): SmsSender {
  return {
    sendSms: async (number, text, id) => {
      await mail.sendMail({ to: pattern.replace('{number}', number.replace(/^\+/, '')), subject: '', text, messageId: id });
    },
  };
}

export function fillTemplate(template: string, contentType: string, values: Record<string, string>): string {
  const json = contentType.includes('json');
  return template.replace(/\{\{(\w+)\}\}/g, (whole, name: string) => {
    const v = values[name];
    if (v === undefined) return whole;
    return json ? JSON.stringify(v) : encodeURIComponent(v);
  });
}

export function httpSmsSender(cfg: HttpSmsConfig): SmsSender {
  return {
    async sendSms(number, text, id) {
      const auth = await readSecret(cfg.authHeaderEnv, cfg.authHeaderFile, 'SMS provider auth header');
      const body = fillTemplate(cfg.bodyTemplate, cfg.contentType, { number, message: text, from: cfg.from ?? '', id });
      const headers: Record<string, string> = { 'content-type': cfg.contentType, 'idempotency-key': id };
      if (auth) headers.authorization = auth;
      let res: Response;
      try {
        res = await fetch(cfg.url, { method: cfg.method, headers, body, signal: AbortSignal.timeout(cfg.timeoutMs) });
      } catch (e) {
        const cause = (e as { cause?: { code?: string; message?: string } }).cause;
        throw new Error(`SMS provider ${new URL(cfg.url).host}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
      }
      if (!res.ok) {
        const detail = (await res.text().catch(() => '')).slice(0, 200).replace(/\s+/g, ' ');
        throw new Error(`SMS provider ${new URL(cfg.url).host} answered HTTP ${res.status}${detail ? `: ${detail}` : ''}`);
      }
      await res.arrayBuffer().catch(() => undefined);
    },
  };
}

/**
 * smstools (smsd) outgoing spool: one file per message, "To: <number>" header, a blank line,
 * the text. Written under a dot name (smsd skips those) and renamed, so smsd never reads a
 * half-written file.
 */
export function smstoolsSender(spoolDir: string): SmsSender {
  return {
    async sendSms(number, text, id) {
      const name = `hawatch-${id.replace(/[^A-Za-z0-9_-]/g, '_')}-${randomBytes(4).toString('hex')}`;
      const tmp = join(spoolDir, `.${name}`);
      await writeFile(tmp, `To: ${number.replace(/^\+/, '')}\n\n${text}\n`, { mode: 0o640 });
      await rename(tmp, join(spoolDir, name));
    },
  };
}
