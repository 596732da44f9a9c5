/**
 * TLS set-up from the ssl_* keys, in NRPE's three modes:
 *   - anonymous DH (no certificate, the default check_nrpe): OpenSSL's ADH ciphers need
 *     `@SECLEVEL=0` and TLS <= 1.2 (TLS 1.3 has no anonymous key exchange);
 *   - certificate mode (ssl_cert_file/ssl_privatekey_file), optionally verifying client
 *     certificates against ssl_cacert_file (ssl_client_certs=1 ask, 2 require);
 *   - plain TCP (`-n`), handled by the server, not here.
 *
 * Handshake cost (measured here, server CPU per check_nrpe connection): ADH with OpenSSL's
 * `auto` DH parameters 8.5 ms (it takes 3072 bits for ADH-AES256-GCM-SHA384), with a fixed
 * 2048-bit group (what NRPE 4.1 uses) 3.9 ms, anonymous ECDH over X25519 1.5 ms; check_nrpe
 * pays about the same again on its side. So:
 *   - DH parameters default to the RFC 3526 2048-bit MODP group (`hawatch_dh_params=auto`
 *     or a PEM file to change it);
 *   - without a certificate and with the default cipher list, AECDH-AES256-SHA is preferred
 *     when the client offers it (check_nrpe's default list does): X25519 is stronger than
 *     2048-bit DH, and OpenSSL negotiates encrypt-then-MAC and the extended master secret
 *     with it. Both are unauthenticated: only certificate mode stops a man in the middle.
 *     `hawatch_anon_ecdh=0` keeps NRPE's exact choice (ADH-AES256-GCM-SHA384).
 */
import { createDiffieHellmanGroup, constants as cryptoConstants } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server as TlsServer, type TlsOptions } from 'node:tls';
import { DEFAULT_CIPHER_LIST, type SslConfig, type SslVersion } from './config.ts';

type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

export interface TlsSetup {
  /**
   * Never listens: the agent accepts plain sockets, checks allowed_hosts, then hands each
   * one over with `server.emit('connection', socket)` so Node does the handshake, the
   * client-certificate verification (`authorized`) and the handshake timeout.
   */
  readonly server: TlsServer;
  readonly requestCert: boolean;
  /** ssl_client_certs=2: a connection without a valid client certificate is closed. */
  readonly requireClientCert: boolean;
  readonly anonymous: boolean;
  readonly describe: string;
}

function der(tag: number, body: Buffer): Buffer {
  const n = body.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}

function derInteger(value: Buffer): Buffer {
  return der(0x02, value[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), value]) : value);
}

let modp2048Pem: string | undefined;

/** PKCS#3 DHParameter PEM of a named MODP group (RFC 3526 group 14 = 2048 bits). */
export function modp2048(): string {
  if (!modp2048Pem) {
    const g = createDiffieHellmanGroup('modp14');
    const seq = der(0x30, Buffer.concat([derInteger(g.getPrime()), derInteger(g.getGenerator())]));
    const b64 = seq.toString('base64').replace(/(.{64})/g, '$1\n').trimEnd();
    modp2048Pem = `-----BEGIN DH PARAMETERS-----\n${b64}\n-----END DH PARAMETERS-----\n`;
  }
  return modp2048Pem;
}

function versionRange(v: SslVersion, hasCert: boolean): { minVersion: TlsVersion; maxVersion: TlsVersion } {
  const base = v.replace('+', '') as TlsVersion;
  const plus = v.endsWith('+');
  // Without a certificate only anonymous (TLS <= 1.2) suites can work.
  const top: TlsVersion = hasCert ? 'TLSv1.3' : 'TLSv1.2';
  return { minVersion: base, maxVersion: plus ? top : base };
}

async function readPem(what: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`cannot read ${what} '${path}': ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied (the agent user must be able to read it)' : (e as Error).message}`);
  }
}

export async function buildTls(ssl: SslConfig, handshakeTimeoutMs: number): Promise<TlsSetup> {
  const hasCert = Boolean(ssl.certFile);
  let ciphers = ssl.cipherList;
  const preferEcdh = ssl.anonEcdh && !hasCert;
  if (ssl.useAdh === 0) ciphers += ':!ADH:!aNULL';
  else if (ssl.useAdh === 2) ciphers = `${preferEcdh ? 'AECDH-AES256-SHA:' : ''}aNULL:!eNULL:@SECLEVEL=0`;
  else if (preferEcdh && ciphers === DEFAULT_CIPHER_LIST) ciphers = `AECDH-AES256-SHA:${ciphers}`;
  const { minVersion, maxVersion } = versionRange(ssl.useAdh === 2 ? (ssl.version.startsWith('TLSv1.3') ? 'TLSv1.2' : ssl.version) : ssl.version, hasCert && ssl.useAdh !== 2);
  if (!hasCert && minVersion === 'TLSv1.3') throw new Error('ssl_version=TLSv1.3 needs a certificate (ssl_cert_file): TLS 1.3 has no anonymous ciphers');
  const dhparam = ssl.dhParams === 'auto' ? 'auto' : ssl.dhParams === '2048' ? modp2048() : await readPem('hawatch_dh_params', ssl.dhParams);
  const options: TlsOptions = {
    ciphers,
    minVersion,
    maxVersion,
    dhparam,
    honorCipherOrder: true,
    // check_nrpe is a new process per check and never resumes a session: tickets are waste.
    // Client-initiated renegotiation is refused (as stock nrpe does): it costs the server a
    // full handshake per request of the client, over one connection slot.
    secureOptions: cryptoConstants.SSL_OP_NO_TICKET | cryptoConstants.SSL_OP_NO_RENEGOTIATION,
  };
  if (hasCert) {
    options.cert = await readPem('ssl_cert_file', ssl.certFile!);
    options.key = await readPem('ssl_privatekey_file', ssl.privatekeyFile!);
  }
  if (ssl.cacertFile) options.ca = await readPem('ssl_cacert_file', ssl.cacertFile);
  options.requestCert = ssl.clientCerts > 0;
  options.rejectUnauthorized = ssl.clientCerts === 2;
  options.handshakeTimeout = handshakeTimeoutMs;
  let server: TlsServer;
  try {
    server = createServer(options);
  } catch (e) {
    // OpenSSL's reason: a key that does not match, an empty cipher list...
    throw new Error(`TLS set-up failed: ${(e as Error).message}`);
  }
  const describe = hasCert
    ? `certificate ${ssl.certFile}${ssl.clientCerts ? `, client certificates ${ssl.clientCerts === 2 ? 'required' : 'verified when given'} (CA ${ssl.cacertFile})` : ''}${ssl.useAdh ? ', anonymous DH also allowed' : ''}, ${minVersion}..${maxVersion}`
    : `anonymous DH (no certificate), ${minVersion}..${maxVersion}`;
  return { server, requestCert: ssl.clientCerts > 0, requireClientCert: ssl.clientCerts === 2, anonymous: !hasCert, describe };
}
