/**
 * Native NRPE client: what check_nrpe 4.x does, without a fork per check.
 *
 * Version negotiation follows check_nrpe 4.1: send a v4 query; when the exchange fails
 * after the connection was made (the peer closed without answering, answered with a
 * packet we cannot use, reset the connection), reconnect once (new TLS handshake) and send
 * a v2 query. A refused connection, a failed TLS handshake or a timeout do not fall back,
 * as in check_nrpe. `packetVersion: 2 | 3` sends only that version (check_nrpe -2 / -3).
 *
 * TLS modes (transport.tls):
 *  - `enabled: false`: plain TCP (check_nrpe -n / nrpe -n). Unencrypted.
 *  - `enabled: true, verify: false`: what stock check_nrpe does by default: cipher list
 *    `ALL:!MD5:@STRENGTH:@SECLEVEL=0`, which allows anonymous Diffie-Hellman, and no check
 *    of the agent's certificate (it usually has none). The traffic is encrypted but NOT
 *    authenticated: anyone who can intercept the connection can impersonate the agent.
 *  - `enabled: true, verify: true`: the agent's certificate must chain to `caFile` and
 *    match `serverName` (default: the address); ADH is not offered unless `ciphers` says so.
 *    `certFile`/`keyFile` add a client certificate (agents with ssl_client_certs=2).
 *
 * Failure states: an agent that cannot be reached (refused, reset, TLS failure, no answer
 * to connect) gives `transport.unreachableState` (check_nrpe -u = UNKNOWN, default
 * CRITICAL); a check that timed out after connecting gives `req.timeoutState`; a broken
 * answer gives UNKNOWN. Each with one `CHECK_NRPE: ...` line that says what failed.
 */
import { readFileSync } from 'node:fs';
import { isIP, Socket } from 'node:net';
import tls, { type SecureContext, type TLSSocket } from 'node:tls';
import {
  decodePacket,
  encodePacket,
  expectedPacketLength,
  MAX_ARGS,
  MAX_BUFFER_LENGTH,
  NrpeDecodeError,
  PacketType,
  V2_BUFFER_SIZE,
  type NrpePacket,
  type NrpeVersion,
} from '../../nagios/nrpe.ts';
import { State, toStateCode, type StateCode } from '../../nagios/states.ts';
import { describeSocketError, errorText, failureOutcome, pluginOutcome, seconds } from './outcome.ts';
import type { CheckOutcome, CheckRequest, Executor, ExecutorFailure, NrpeTlsConfig, NrpeTransport } from './types.ts';

/** check_nrpe's default cipher list: every cipher including anonymous DH, at OpenSSL security level 0. */
export const NRPE_ADH_CIPHERS = 'ALL:!MD5:@STRENGTH:@SECLEVEL=0';
/** The largest packet any version can carry: v3 header + 64 KiB buffer + trailer. */
export const MAX_RESPONSE_BYTES = 16 + MAX_BUFFER_LENGTH + 3;

export interface NrpeExecutorOptions {
  /** Responses announcing more bytes than this are refused (UNKNOWN). Default the protocol maximum. */
  readonly maxResponseBytes?: number;
  /** Longest time for TCP connect + TLS handshake, within the request's timeout. Default 10 s. */
  readonly connectTimeoutMs?: number;
  /**
   * Offer the last TLS session (ticket) of the agent when reconnecting, which skips the
   * Diffie-Hellman exchange when the agent supports it. Default true.
   */
  readonly tlsSessionReuse?: boolean;
  /**
   * After a v4 query fell back to v2, send v2 straight away to that agent for this long
   * instead of paying two connections per check. Default 10 minutes; 0 = always try v4 first
   * (exactly check_nrpe's behaviour).
   */
  readonly rememberV2ForMs?: number;
}

type Stage = 'connect' | 'tls' | 'exchange';

type Attempt =
  | { readonly ok: true; readonly packet: NrpePacket }
  | {
      readonly ok: false;
      readonly failure: ExecutorFailure;
      readonly stage: Stage;
      readonly message: string;
      /** check_nrpe would reconnect and retry with a v2 packet after this failure. */
      readonly fallback: boolean;
      /** The state the failure maps to. */
      readonly state: StateCode;
      /** The handshake failed while resuming a TLS session. */
      readonly resumeFailed?: boolean;
    };

interface TlsMaterial {
  readonly context: SecureContext;
}

/** Builds the query text, or says why this command cannot be sent. */
export function buildQuery(command: string, args: readonly string[]): string {
  if (command === '') throw new Error('the NRPE command name is empty');
  if (command.includes('!')) throw new Error(`the NRPE command name '${command}' contains '!', the argument separator`);
  if (args.length > MAX_ARGS) throw new Error(`${args.length} arguments given to NRPE command '${command}'; NRPE passes at most ${MAX_ARGS} ($ARG1$..$ARG16$)`);
  args.forEach((a, i) => {
    if (a.includes('!')) throw new Error(`argument ${i + 1} of NRPE command '${command}' contains '!', which NRPE uses as the argument separator`);
    if (a.includes('\0')) throw new Error(`argument ${i + 1} of NRPE command '${command}' contains a NUL byte`);
  });
  return [command, ...args].join('!');
}

/** The longest query text each version carries (the buffer is NUL terminated). */
function maxQueryBytes(version: NrpeVersion): number {
  return version === 2 ? V2_BUFFER_SIZE - 1 : MAX_BUFFER_LENGTH - 1;
}

function hostPort(address: string, port: number): string {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

export class NrpeExecutor implements Executor {
  private readonly maxResponseBytes: number;
  private readonly connectTimeoutMs: number;
  private readonly sessionReuse: boolean;
  private readonly rememberV2ForMs: number;
  private readonly sockets = new Set<Socket>();
  private readonly contexts = new Map<string, TlsMaterial>();
  private readonly sessions = new Map<string, Buffer>();
  private readonly v2Until = new Map<string, number>();
  /** Agents that failed a resumed handshake: they get full handshakes only. */
  private readonly noResume = new Set<string>();
  private closed = false;

  constructor(options: NrpeExecutorOptions = {}) {
    this.maxResponseBytes = Math.min(options.maxResponseBytes ?? MAX_RESPONSE_BYTES, MAX_RESPONSE_BYTES);
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.sessionReuse = options.tlsSessionReuse ?? true;
    this.rememberV2ForMs = options.rememberV2ForMs ?? 10 * 60_000;
  }

  async run(req: CheckRequest): Promise<CheckOutcome> {
    const startedAt = Date.now();
    const mono = performance.now();
    const fail = (failure: ExecutorFailure, state: StateCode, message: string): CheckOutcome =>
      failureOutcome(failure, state, `CHECK_NRPE: ${message}`, startedAt, mono);
    const t = req.transport;
    if (t.kind !== 'nrpe') return fail('protocol', State.UNKNOWN, `the NRPE executor got a '${t.kind}' transport for ${req.hostName} (internal error, please report it)`);
    if (req.command.kind !== 'nrpe') return fail('protocol', State.UNKNOWN, `${req.hostName} uses NRPE but the check has a command line, not an NRPE command name; define it as an NRPE command`);
    if (this.closed) return fail('aborted', State.UNKNOWN, 'check not run: the server is shutting down');
    let query: string;
    try {
      query = buildQuery(req.command.command, req.command.args);
    } catch (e) {
      return fail('protocol', State.UNKNOWN, `${errorText(e)}; check the service definition`);
    }
    let material: TlsMaterial | undefined;
    if (t.tls.enabled) {
      try {
        material = this.tlsMaterial(t.tls);
      } catch (e) {
        return fail('tls', State.UNKNOWN, `cannot load the TLS files for ${req.hostName}: ${errorText(e)}; check ca/cert/key paths and their permissions`);
      }
    }
    const deadline = performance.now() + req.timeoutMs;
    const peer = hostPort(req.address, t.port);
    const remembered = (this.v2Until.get(peer) ?? 0) > Date.now();
    const first: NrpeVersion = t.packetVersion === 4 && remembered ? 2 : t.packetVersion;
    const tooLong = (v: NrpeVersion): boolean => Buffer.byteLength(query, 'utf8') > maxQueryBytes(v);

    if (tooLong(first)) {
      return fail('protocol', State.UNKNOWN, `the query for '${req.command.command}' is ${Buffer.byteLength(query, 'utf8')} bytes; NRPE v${first} carries at most ${maxQueryBytes(first)}`);
    }
    const a1 = await this.attemptResuming(req, t, material, first, query, deadline);
    if (a1.ok) return this.answer(a1.packet, startedAt, mono);
    if (!(a1.fallback && first === 4)) return fail(a1.failure, a1.state, a1.message);

    // check_nrpe 4.x: "Remote does not support Version 3 Packets" -> reconnect, send v2.
    if (tooLong(2)) return fail(a1.failure, a1.state, `${a1.message}; a v2 retry is impossible: the query is longer than ${maxQueryBytes(2)} bytes`);
    const a2 = await this.attemptResuming(req, t, material, 2, query, deadline);
    if (a2.ok) {
      if (this.rememberV2ForMs > 0) this.v2Until.set(peer, Date.now() + this.rememberV2ForMs);
      return this.answer(a2.packet, startedAt, mono);
    }
    const same = a2.message === a1.message;
    return fail(a2.failure, a2.state, same ? `${a2.message} (v4 and v2 packets alike)` : `${a2.message} (v2 retry; the v4 attempt failed with: ${a1.message})`);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.sessions.clear();
  }

  private answer(packet: NrpePacket, startedAt: number, mono: number): CheckOutcome {
    const code = toStateCode(packet.resultCode);
    if (packet.text === '') return failureOutcome('protocol', code, 'CHECK_NRPE: No output returned from daemon.', startedAt, mono);
    const outcome = pluginOutcome(packet.resultCode, packet.text, startedAt, mono);
    return outcome;
  }

  private tlsMaterial(cfg: NrpeTlsConfig): TlsMaterial {
    const key = JSON.stringify([cfg.verify, cfg.caFile, cfg.certFile, cfg.keyFile, cfg.ciphers]);
    const cached = this.contexts.get(key);
    if (cached) return cached;
    if (cfg.verify && !cfg.caFile) throw new Error('verify is on but no CA file is configured');
    if ((cfg.certFile === undefined) !== (cfg.keyFile === undefined)) throw new Error('a client certificate needs both certFile and keyFile');
    const read = (what: string, path: string): Buffer => {
      try {
        return readFileSync(path);
      } catch (e) {
        throw new Error(`${what} ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : errorText(e)}`);
      }
    };
    const context = tls.createSecureContext({
      // Without verification we are check_nrpe: ADH allowed. With it, Node's defaults (no aNULL).
      ciphers: cfg.ciphers ?? (cfg.verify ? undefined : NRPE_ADH_CIPHERS),
      ...(cfg.verify && cfg.caFile ? { ca: read('CA file', cfg.caFile) } : {}),
      ...(cfg.certFile ? { cert: read('certificate', cfg.certFile) } : {}),
      ...(cfg.keyFile ? { key: read('key', cfg.keyFile) } : {}),
      minVersion: 'TLSv1.2',
    });
    const material = { context };
    this.contexts.set(key, material);
    return material;
  }

  /**
   * nrpe 4.1 with ssl_client_certs set has no session id context and answers a resumed
   * handshake with an "internal error" alert; an agent that does that gets full handshakes.
   */
  private async attemptResuming(req: CheckRequest, t: NrpeTransport, material: TlsMaterial | undefined, version: NrpeVersion, query: string, deadline: number): Promise<Attempt> {
    const a = await this.attempt(req, t, material, version, query, deadline);
    if (a.ok || !a.resumeFailed) return a;
    this.noResume.add(hostPort(req.address, t.port));
    return this.attempt(req, t, material, version, query, deadline);
  }

  /** One connection, one query, one answer. Never rejects. */
  private attempt(req: CheckRequest, t: NrpeTransport, material: TlsMaterial | undefined, version: NrpeVersion, query: string, deadline: number): Promise<Attempt> {
    return new Promise<Attempt>((resolve) => {
      const peer = hostPort(req.address, t.port);
      const command = req.command.kind === 'nrpe' ? req.command.command : '';
      let stage: Stage = 'connect';
      let settled = false;
      let received = 0;
      let chunks: Buffer[] = [];
      let need = 0;
      let tlsSocket: TLSSocket | undefined;
      let offeredSession = false;
      const raw = new Socket();
      this.sockets.add(raw);

      const finish = (a: Attempt): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(connectTimer);
        req.signal?.removeEventListener('abort', onAbort);
        if (!a.ok && tlsSocket) this.sessions.delete(peer);
        tlsSocket?.destroy();
        raw.destroy();
        this.sockets.delete(raw);
        resolve(a);
      };
      const failed = (failure: ExecutorFailure, state: StateCode, message: string, fallback = false): void =>
        finish({ ok: false, failure, stage, message, fallback, state });

      const totalLeft = Math.max(0, deadline - performance.now());
      const timer = setTimeout(() => {
        const where = stage === 'exchange' ? `waiting for the answer to ${command} from ${peer}` : stage === 'tls' ? `during the TLS handshake with ${peer}` : `connecting to ${peer}`;
        const state = stage === 'exchange' ? req.timeoutState : t.unreachableState;
        failed('timeout', state, `Socket timeout after ${seconds(req.timeoutMs)} ${where}`);
      }, totalLeft);
      const connectTimer = setTimeout(() => {
        if (stage === 'exchange') return;
        failed('timeout', t.unreachableState, `no connection to ${peer} within ${seconds(this.connectTimeoutMs)} (${stage === 'tls' ? 'TLS handshake' : 'TCP connect'} did not complete)`);
      }, Math.min(this.connectTimeoutMs, totalLeft));
      const onAbort = (): void => failed('aborted', State.UNKNOWN, 'check aborted: the server is shutting down');
      if (req.signal?.aborted) return onAbort();
      req.signal?.addEventListener('abort', onAbort, { once: true });

      const onData = (chunk: Buffer): void => {
        chunks.push(chunk);
        received += chunk.length;
        try {
          if (need === 0) {
            const head = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
            chunks = [head];
            need = expectedPacketLength(head);
            if (need > this.maxResponseBytes) {
              return failed('protocol', State.UNKNOWN, `the answer from ${peer} announces ${need} bytes, more than the ${this.maxResponseBytes} accepted`);
            }
          }
          if (need === 0 || received < need) return;
          const all = Buffer.concat(chunks);
          const packet = decodePacket(all.subarray(0, need));
          if (packet.type !== PacketType.RESPONSE) return failed('protocol', State.UNKNOWN, `${peer} sent a packet of type ${packet.type}, not a response`, true);
          if (packet.version !== version && !(version === 4 && packet.version === 3)) {
            // check_nrpe 4.x: "Invalid packet version received from server." and it retries with v2.
            return failed('protocol', State.UNKNOWN, `Invalid packet version received from server (sent v${version}, got v${packet.version})`, true);
          }
          finish({ ok: true, packet });
        } catch (e) {
          const reason = e instanceof NrpeDecodeError ? e.message : errorText(e);
          failed('protocol', State.UNKNOWN, `invalid answer from ${peer}: ${reason}`, true);
        }
      };
      const onEnd = (): void => {
        if (settled) return;
        if (received === 0) {
          failed('protocol', State.UNKNOWN,
            `Received 0 bytes from daemon at ${peer} for ${command}. Check the agent log: it refuses arguments unless dont_blame_nrpe=1, ` +
              `arguments with shell metacharacters or newlines (nasty_metachars), unknown packet versions, and hosts not in allowed_hosts${t.tls.enabled ? '' : ', or it expects TLS (this check uses plain TCP)'}`,
            true);
        } else {
          failed('protocol', State.UNKNOWN, `Receive underflow from ${peer}: only ${received} bytes received${need ? ` (${need} expected)` : ''}`, true);
        }
      };
      const onError = (e: NodeJS.ErrnoException): void => {
        if (settled) return;
        if (stage === 'connect') return failed('connect', t.unreachableState, `Error - Could not connect to ${peer}: ${describeSocketError(e)}`);
        if (stage === 'tls') {
          const hint = /before secure TLS connection|ECONNRESET|socket hang up/i.test(`${e.code ?? ''} ${e.message}`)
            ? ' (the agent closed the connection during the handshake: is it running without TLS, nrpe -n? or is this host missing from its allowed_hosts?)'
            : '';
          const message = `Error - Could not complete TLS handshake with ${peer}: ${describeTlsError(e)}${hint}`;
          if (offeredSession) return finish({ ok: false, failure: 'tls', stage, message, fallback: false, state: t.unreachableState, resumeFailed: true });
          return failed('tls', t.unreachableState, message);
        }
        // A TLS alert after the handshake (TLS 1.3 sends "certificate required" then): a v2 packet will not help.
        if (e.code?.startsWith('ERR_SSL_')) return failed('tls', t.unreachableState, `TLS error from ${peer}: ${describeTlsError(e)}`);
        // A reset after the query: the daemon dropped us, which check_nrpe answers with a v2 retry.
        const hint = t.tls.enabled ? '' : ' (does the agent expect TLS? this check uses plain TCP)';
        failed('connect', t.unreachableState, `Error receiving data from daemon at ${peer}: ${describeSocketError(e)}${hint}`, true);
      };

      const sendQuery = (stream: Socket): void => {
        stage = 'exchange';
        stream.on('data', onData);
        stream.on('end', onEnd);
        stream.write(encodePacket({ version, type: PacketType.QUERY, text: query }));
      };

      raw.setNoDelay(true);
      raw.on('error', onError);
      raw.on('close', () => {
        if (settled) return;
        if (stage === 'exchange') return onEnd();
        const err = Object.assign(new Error('the connection was closed'), { code: 'ECONNRESET' });
        onError(err);
      });
      raw.connect({ host: req.address, port: t.port }, () => {
        if (settled) return;
        if (!t.tls.enabled || !material) return sendQuery(raw);
        stage = 'tls';
        const cfg = t.tls;
        const name = cfg.serverName ?? req.address;
        const session = this.sessionReuse && !this.noResume.has(peer) ? this.sessions.get(peer) : undefined;
        offeredSession = session !== undefined;
        tlsSocket = tls.connect({
          socket: raw,
          secureContext: material.context,
          // SNI carries host names only; an IP there is deprecated (DEP0123).
          ...(isIP(name) === 0 ? { servername: name } : {}),
          rejectUnauthorized: cfg.verify,
          checkServerIdentity: cfg.verify ? (_host, cert) => tls.checkServerIdentity(name, cert) : () => undefined,
          ...(session ? { session } : {}),
        });
        tlsSocket.on('error', onError);
        tlsSocket.on('session', (s: Buffer) => {
          if (this.sessionReuse && !this.noResume.has(peer)) this.sessions.set(peer, s);
        });
        tlsSocket.once('secureConnect', () => {
          if (settled || !tlsSocket) return;
          sendQuery(tlsSocket);
        });
      });
    });
  }
}

/** OpenSSL's reason from "...:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:../deps/...". */
function opensslReason(message: string): string | undefined {
  return /SSL routines:[^:]*:([^:]+):/.exec(message)?.[1];
}

function describeTlsError(e: NodeJS.ErrnoException): string {
  const reason = opensslReason(e.message);
  if (reason) {
    if (/certificate required/.test(reason)) return `${reason}: the agent requires a client certificate (set certFile and keyFile)`;
    if (/unknown ca|bad certificate|certificate unknown/.test(reason)) return `${reason}: the agent does not accept our client certificate (is it signed by the agent's ssl_cacert_file?)`;
    if (/no shared cipher|handshake failure|no cipher/.test(reason)) return `${reason}: no common cipher (an agent with ssl_use_adh=2 needs verify off; one without ADH needs a certificate)`;
    if (/wrong version number|packet length too long|record layer failure/.test(reason)) return `${reason}: the agent does not speak TLS here (nrpe -n?)`;
    return reason;
  }
  switch (e.code) {
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return `the agent's certificate is not signed by the configured CA (${e.code})`;
    case 'CERT_HAS_EXPIRED':
      return "the agent's certificate has expired";
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `${errorText(e)}; set serverName to a name in the certificate`;
    default:
      return describeSocketError(e);
  }
}

export function createNrpeExecutor(options?: NrpeExecutorOptions): Executor {
  return new NrpeExecutor(options);
}
