/**
 * Push: the agent sends each changed result of a watched command at once to the server's
 * passive-result route (POST /api/v1/results), over HTTPS with the server pinned by a CA
 * (hawatch_push_ca_file) or by the SHA-256 fingerprint of its certificate
 * (hawatch_push_fingerprint), with a per-host bearer token read from hawatch_push_token_file
 * (never in argv, never logged).
 *
 * While the server cannot be reached the results wait in a bounded queue, in order, and are
 * retried with backoff (1 s doubling, capped by hawatch_push_retry_max); when the queue is
 * full the oldest result is dropped and the count is logged, and sent to the server, with the
 * next successful send. Every result carries its observation time (observed_at, Unix seconds),
 * so a late delivery is applied as of when it was seen, and never over a newer state.
 *
 * The TLS connection is made and verified first; the request (with the token) is written
 * only on a verified connection, so a wrong server never sees the token.
 */
import { request } from 'node:http';
import { connect, type PeerCertificate, type TLSSocket } from 'node:tls';
import type { Logger } from './log.ts';

export interface PushSettings {
  readonly url: URL;
  /** PEM of the CA (or the server's own certificate) that must sign the server's certificate. */
  readonly ca?: string | undefined;
  /** SHA-256 fingerprint of the server's certificate, hex (colons optional). */
  readonly fingerprint?: string | undefined;
  readonly token: string;
  /** The host name of this node in the server's inventory. */
  readonly host: string;
  /** command name -> service name in the inventory (default: the command name). */
  readonly services: ReadonlyMap<string, string>;
  readonly queueSize: number;
  readonly retryMaxMs: number;
}

export interface PushedResult {
  readonly command: string;
  readonly state: number;
  readonly output: string;
  /** Unix ms. */
  readonly observedAt: number;
}

const BATCH = 100;
const MAX_BODY = 48 * 1024;
const REQUEST_TIMEOUT_MS = 10_000;

export function normalizeFingerprint(fp: string): string {
  return fp.replace(/^sha256[:/]?/i, '').replace(/[:\s]/g, '').toUpperCase();
}

class PushRefused extends Error {
  override name = 'PushRefused';
}

export class Pusher {
  private settings: PushSettings | undefined;
  private readonly queue: PushedResult[] = [];
  private dropped = 0;
  private sending = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private closed = false;
  /** Results delivered so far (for logs and tests). */
  delivered = 0;

  private readonly log: Logger;
  constructor(log: Logger) {
    this.log = log;
  }

  configure(s: PushSettings | undefined): void {
    this.settings = s;
    if (s) this.kick();
  }

  get queued(): number {
    return this.queue.length;
  }

  enqueue(r: PushedResult): void {
    if (!this.settings || this.closed) return;
    this.queue.push(r);
    while (this.queue.length > this.settings.queueSize) {
      this.queue.shift();
      this.dropped++;
    }
    this.kick();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
  }

  private kick(): void {
    if (this.sending || this.retryTimer || this.closed) return;
    void this.drain();
  }

  private async drain(): Promise<void> {
    this.sending = true;
    try {
      while (this.queue.length && this.settings && !this.closed) {
        const s = this.settings;
        // The server takes bodies up to 64 KiB: batches stay below MAX_BODY (a result's output
        // is at most 8 KiB, so one always fits).
        const items: string[] = [];
        let size = 0;
        for (const r of this.queue) {
          if (items.length >= BATCH) break;
          const item = JSON.stringify({ host: s.host, service: s.services.get(r.command) ?? r.command, state: r.state, output: r.output, observed_at: r.observedAt / 1000 });
          if (items.length > 0 && size + item.length + 1 > MAX_BODY) break;
          items.push(item);
          size += Buffer.byteLength(item) + 1;
        }
        const batch = this.queue.slice(0, items.length);
        const dropped = this.dropped;
        const body = `{"results":[${items.join(',')}]${dropped > 0 ? `,"dropped":${dropped}` : ''}}`;
        let status: number;
        try {
          status = await post(s, body);
        } catch (e) {
          this.retry(s, e instanceof PushRefused ? 'server refused' : 'server unreachable', (e as Error).message);
          return;
        }
        if (status === 200 || status === 400 || status === 404 || status === 409 || status === 413) {
          // 4xx other than auth: the batch can never be accepted; keep the queue moving.
          if (status !== 200) this.log.error('push: the server rejected results; dropped', { status, results: batch.length, hint: 'check that the host and service names match the inventory (hawatch_push_host, hawatch_push_service)' });
          this.queue.splice(0, batch.length);
          this.dropped -= dropped;
          if (status === 200) this.delivered += batch.length;
          if (this.failures > 0 || dropped > 0) this.log.info('push: delivered', { results: batch.length, ...(dropped > 0 ? { dropped_while_queued: dropped } : {}), after_failures: this.failures });
          this.failures = 0;
          continue;
        }
        this.retry(s, 'server answered', `HTTP ${status}${status === 401 || status === 403 ? ' (the push token is not accepted: check hawatch_push_token_file and the host push_token_file)' : ''}`);
        return;
      }
    } finally {
      this.sending = false;
    }
  }

  private retry(s: PushSettings, what: string, detail: string): void {
    const wait = Math.min(s.retryMaxMs, 1000 * 2 ** Math.min(this.failures, 20));
    this.failures++;
    // Once per failure streak at warn, then debug: a server down for an hour is one line an attempt at most.
    if (this.failures === 1) this.log.warn(`push: ${what}; results queued`, { error: detail, queued: this.queue.length, retry_s: wait / 1000 });
    else this.log.debug(`push: ${what}; retrying`, { error: detail, queued: this.queue.length, retry_s: wait / 1000 });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.kick();
    }, wait);
  }
}

function verifyPeer(s: PushSettings, sock: TLSSocket): string | undefined {
  if (s.fingerprint !== undefined) {
    const cert = sock.getPeerCertificate() as PeerCertificate | undefined;
    const got = cert?.fingerprint256 ? normalizeFingerprint(cert.fingerprint256) : '';
    return got === normalizeFingerprint(s.fingerprint) ? undefined : `the server certificate fingerprint ${got || 'none'} is not hawatch_push_fingerprint`;
  }
  return sock.authorized ? undefined : `the server certificate does not verify against hawatch_push_ca_file: ${String(sock.authorizationError)}`;
}

/** Connects, verifies the server, then posts: resolves with the HTTP status. */
function post(s: PushSettings, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const host = s.url.hostname.replace(/^\[|\]$/g, '');
    const port = Number(s.url.port || 443);
    let settled = false;
    const done = (f: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      f();
    };
    const sock = connect({
      host,
      port,
      servername: /^[\d.:]+$/.test(host) ? undefined : host,
      ca: s.ca,
      // With a CA: Node verifies the chain and the name. With a fingerprint: the comparison
      // below is the verification (a self-signed certificate pinned by its hash).
      rejectUnauthorized: s.fingerprint === undefined,
      ALPNProtocols: ['http/1.1'],
    });
    const timer = setTimeout(() => {
      sock.destroy();
      done(() => reject(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000} s`)));
    }, REQUEST_TIMEOUT_MS);
    sock.once('error', (e: NodeJS.ErrnoException) => {
      // Node ends a handshake whose certificate does not verify with an error: that is a
      // refusal of the server (nothing was sent), not an unreachable one.
      const refused = /CERT|SIGNATURE|SELF_SIGNED|ALTNAME|UNABLE_TO|ISSUER/.test(e.code ?? '');
      done(() => reject(refused ? new PushRefused(`the server certificate does not verify against hawatch_push_ca_file: ${e.message}`) : e));
    });
    sock.once('secureConnect', () => {
      const why = verifyPeer(s, sock);
      if (why) {
        sock.destroy();
        done(() => reject(new PushRefused(why)));
        return;
      }
      const req = request(
        {
          method: 'POST',
          host,
          port,
          path: `${s.url.pathname}${s.url.search}`,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${s.token}`, connection: 'close' },
          createConnection: () => sock,
        },
        (res) => {
          res.resume();
          res.on('end', () => done(() => resolve(res.statusCode ?? 0)));
          res.on('error', (e) => done(() => reject(e)));
        },
      );
      req.on('error', (e) => done(() => reject(e)));
      req.end(body);
    });
  });
}
