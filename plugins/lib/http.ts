/**
 * One HTTP(S) GET for the checks that read a status page (haproxy's stats CSV, nginx's
 * stub_status): the whole exchange bounded by a deadline (Node's own timeout is per idle
 * socket), stopped by the check's abort signal, the body capped. Callers turn the outcome
 * into their own messages: a status other than 200 is returned, not thrown.
 */
import type { IncomingHttpHeaders } from 'node:http';

export interface HttpGetOptions {
  readonly headers: Readonly<Record<string, string>>;
  readonly ca?: string | undefined;
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
  /** A body above this many bytes ends the request with `too-large`. */
  readonly maxBytes: number;
}

export interface HttpGetResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The body as UTF-8; empty for a status other than 200 (not read). */
  readonly body: string;
}

export type HttpGetFailure =
  | { readonly kind: 'timeout' }
  | { readonly kind: 'aborted' }
  | { readonly kind: 'too-large' }
  /** The request failed (connection refused, TLS, reset): Node's error. */
  | { readonly kind: 'request'; readonly error: NodeJS.ErrnoException }
  /** The response broke off while its body was read. */
  | { readonly kind: 'response'; readonly error: Error };

export class HttpGetError extends Error {
  override name = 'HttpGetError';
  readonly failure: HttpGetFailure;
  constructor(failure: HttpGetFailure) {
    super(failure.kind === 'request' || failure.kind === 'response' ? failure.error.message : failure.kind);
    this.failure = failure;
  }
}

export async function httpGet(url: URL, o: HttpGetOptions): Promise<HttpGetResponse> {
  // Loaded only on this path: checks that never fetch a page do not pay for the HTTP/TLS modules.
  const { request } = url.protocol === 'https:' ? await import('node:https') : await import('node:http');
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (fn: () => void): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      o.signal.removeEventListener('abort', onAbort);
      fn();
    };
    const fail = (f: HttpGetFailure): void => finish(() => reject(new HttpGetError(f)));
    const timer = setTimeout(() => {
      fail({ kind: 'timeout' });
      req.destroy();
    }, o.timeoutMs);
    const onAbort = (): void => {
      fail({ kind: 'aborted' });
      req.destroy();
    };
    o.signal.addEventListener('abort', onAbort, { once: true });
    const req = request(url, { method: 'GET', headers: o.headers, ...(o.ca ? { ca: o.ca } : {}) }, (res) => {
      const status = res.statusCode ?? 0;
      if (status !== 200) {
        res.resume();
        finish(() => resolve({ status, headers: res.headers, body: '' }));
        return;
      }
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (bytes > o.maxBytes) {
          req.destroy();
          fail({ kind: 'too-large' });
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => finish(() => resolve({ status, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') })));
      res.on('error', (error) => fail({ kind: 'response', error }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => fail({ kind: 'request', error }));
    req.end();
  });
}
