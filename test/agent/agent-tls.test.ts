/**
 * TLS modes (anonymous DH, certificates with client verification, plain TCP), what a
 * mismatched client sees, and allowed_hosts enforced before any TLS.
 */
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkNrpe, cleanup, rawExchange, requireFile, run, startAgent, tempDir, type Daemon } from './helpers.ts';

const OPENSSL = '/usr/bin/openssl';
afterAll(cleanup);

async function openssl(args: string[]): Promise<void> {
  const r = await run(OPENSSL, args);
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, plus a rogue CA and client. */
async function makePki(dir: string): Promise<Record<string, string>> {
  requireFile(OPENSSL, 'install the Debian package openssl');
  const p = (n: string): string => join(dir, n);
  const ca = async (name: string): Promise<void> => {
    await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p(`${name}.key`), '-out', p(`${name}.crt`), '-days', '2', '-subj', `/CN=${name}`]);
  };
  const leafCert = async (name: string, caName: string): Promise<void> => {
    await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${name}`]);
    await openssl(['x509', '-req', '-in', p(`${name}.csr`), '-CA', p(`${caName}.crt`), '-CAkey', p(`${caName}.key`), '-CAcreateserial', '-out', p(`${name}.crt`), '-days', '2', '-extfile', p(`${name}.ext`)]);
  };
  await ca('ca');
  await ca('rogue-ca');
  await writeFile(p('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await writeFile(p('client.ext'), 'extendedKeyUsage=clientAuth\n');
  await writeFile(p('rogue.ext'), 'extendedKeyUsage=clientAuth\n');
  await leafCert('server', 'ca');
  await leafCert('client', 'ca');
  await leafCert('rogue', 'rogue-ca');
  // test keys only: readable so the agent (running as nagios) can re-read them on reload
  for (const n of ['ca', 'rogue-ca', 'server', 'client', 'rogue']) await chmod(p(`${n}.key`), 0o644);
  return Object.fromEntries(['ca', 'rogue-ca', 'server', 'client', 'rogue'].flatMap((n) => [[`${n}.crt`, p(`${n}.crt`)], [`${n}.key`, p(`${n}.key`)]]));
}

describe('anonymous mode (no certificate), what a default check_nrpe speaks', () => {
  it('prefers anonymous ECDH (X25519), keeps ADH for clients that force it, and NRPE’s choice on request', async () => {
    const fast = await startAgent({ config: 'allowed_hosts=127.0.0.1\ncommand[hello]=/bin/echo anon\nssl_logging=0x0c' });
    expect(await checkNrpe(fast.port, ['-c', 'hello'])).toMatchObject({ code: 0, stdout: 'anon\n' });
    // check_nrpe -d 2 offers anonymous finite-field DH only
    expect(await checkNrpe(fast.port, ['-d', '2', '-c', 'hello'])).toMatchObject({ code: 0, stdout: 'anon\n' });
    const ciphers = fast.records().filter((r) => r.msg === 'tls').map((r) => `${r.protocol} ${r.cipher}`);
    expect(ciphers).toEqual(['TLSv1.2 AECDH-AES256-SHA', 'TLSv1.2 ADH-AES256-GCM-SHA384']);

    const likeNrpe = await startAgent({ config: 'allowed_hosts=127.0.0.1\ncommand[hello]=/bin/echo anon\nssl_logging=0x0c\nhawatch_anon_ecdh=0' });
    expect(await checkNrpe(likeNrpe.port, ['-c', 'hello'])).toMatchObject({ code: 0, stdout: 'anon\n' });
    expect(likeNrpe.records().filter((r) => r.msg === 'tls').map((r) => r.cipher)).toEqual(['ADH-AES256-GCM-SHA384']);
  });
});

describe('certificate mode with client-certificate verification (ssl_client_certs=2)', () => {
  let pki: Record<string, string>;
  let agent: Daemon;
  beforeAll(async () => {
    pki = await makePki(await tempDir('hawatch-agent-pki-'));
    agent = await startAgent({
      config: [
        'allowed_hosts=127.0.0.1',
        'command[hello]=/bin/echo hello over mutual TLS',
        `ssl_cert_file=${pki['server.crt']}`,
        `ssl_privatekey_file=${pki['server.key']}`,
        `ssl_cacert_file=${pki['ca.crt']}`,
        'ssl_client_certs=2',
        'ssl_use_adh=0',
        'ssl_version=TLSv1.2+',
        'ssl_logging=0x0c',
      ].join('\n'),
    });
  });

  it('answers check_nrpe -C -K -A with a client certificate from its CA (TLS 1.3)', async () => {
    const r = await checkNrpe(agent.port, ['-C', pki['client.crt']!, '-K', pki['client.key']!, '-A', pki['ca.crt']!, '-c', 'hello']);
    expect(r).toMatchObject({ code: 0, stdout: 'hello over mutual TLS\n' });
    expect(agent.records().some((x) => x.msg === 'tls' && x.protocol === 'TLSv1.3')).toBe(true);
  });

  it('refuses a client without a certificate, and one signed by another CA', async () => {
    const none = await checkNrpe(agent.port, ['-c', 'hello']);
    expect(none.code).not.toBe(0);
    expect(none.stdout).not.toMatch(/hello/);
    const rogue = await checkNrpe(agent.port, ['-C', pki['rogue.crt']!, '-K', pki['rogue.key']!, '-A', pki['ca.crt']!, '-c', 'hello']);
    expect(rogue.code).not.toBe(0);
    expect(rogue.stdout).not.toMatch(/hello/);
    // the check_nrpe default (anonymous DH only offered by it alongside others) gets no ADH either
    const adhOnly = await checkNrpe(agent.port, ['-d', '2', '-c', 'hello']);
    expect(adhOnly.stdout).not.toMatch(/hello/);
  });

  it('lets check_nrpe verify the server against the CA (-A), and fail against another CA', async () => {
    const wrongCa = await checkNrpe(agent.port, ['-C', pki['client.crt']!, '-K', pki['client.key']!, '-A', pki['rogue-ca.crt']!, '-c', 'hello']);
    expect(wrongCa.stdout).not.toMatch(/hello/);
  });
});

describe('certificate mode asking for (not requiring) client certificates (ssl_client_certs=1)', () => {
  it('serves clients without a certificate but refuses a bad one', async () => {
    const pki = await makePki(await tempDir('hawatch-agent-pki-'));
    const agent = await startAgent({
      config: ['allowed_hosts=127.0.0.1', 'command[hello]=/bin/echo hi', `ssl_cert_file=${pki['server.crt']}`, `ssl_privatekey_file=${pki['server.key']}`, `ssl_cacert_file=${pki['ca.crt']}`, 'ssl_client_certs=1'].join('\n'),
    });
    expect(await checkNrpe(agent.port, ['-c', 'hello'])).toMatchObject({ code: 0, stdout: 'hi\n' });
    expect(await checkNrpe(agent.port, ['-C', pki['client.crt']!, '-K', pki['client.key']!, '-c', 'hello'])).toMatchObject({ code: 0, stdout: 'hi\n' });
    const rogue = await checkNrpe(agent.port, ['-C', pki['rogue.crt']!, '-K', pki['rogue.key']!, '-c', 'hello']);
    expect(rogue.stdout).not.toMatch(/hi/);
    expect(agent.output()).toMatch(/client certificate refused/);
  });
});

describe('plain TCP (-n) and mismatched clients', () => {
  let plain: Daemon;
  let tls: Daemon;
  beforeAll(async () => {
    plain = await startAgent({ config: 'allowed_hosts=127.0.0.1\ncommand[hello]=/bin/echo plain hello', plain: true });
    tls = await startAgent({ config: 'allowed_hosts=127.0.0.1\ncommand[hello]=/bin/echo tls hello' });
  });

  it('answers check_nrpe -n in v4, v3 and v2', async () => {
    for (const flags of [[], ['-3'], ['-2']]) {
      expect(await checkNrpe(plain.port, ['-n', ...flags, '-c', 'hello'])).toMatchObject({ code: 0, stdout: 'plain hello\n' });
    }
  });

  it('closes at once when a TLS client reaches the plain agent (no socket timeout)', async () => {
    const r = await checkNrpe(plain.port, ['-c', 'hello']);
    expect(r.code).not.toBe(0);
    expect(r.stdout).not.toMatch(/plain hello/);
    expect(r.ms).toBeLessThan(3000);
    expect(plain.output()).toMatch(/a TLS handshake reached the plain-TCP agent/);
  });

  it('gives a plain client on the TLS agent nothing, and keeps serving', async () => {
    const r = await checkNrpe(tls.port, ['-n', '-c', 'hello']);
    expect(r.code).not.toBe(0);
    expect(r.stdout).not.toMatch(/tls hello/);
    expect(await checkNrpe(tls.port, ['-c', 'hello'])).toMatchObject({ code: 0, stdout: 'tls hello\n' });
  });
});

describe('allowed_hosts, checked right after accept, before TLS', () => {
  it('closes a host outside allowed_hosts without a TLS handshake; names and CIDR work', async () => {
    const agent = await startAgent({ config: 'allowed_hosts=127.0.0.2\ncommand[hello]=/bin/echo allowed' });
    const refused = await checkNrpe(agent.port, ['-b', '127.0.0.1', '-c', 'hello']);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout).not.toMatch(/allowed/);
    expect(agent.output()).toMatch(/"msg":"host not allowed","remote":"127.0.0.1"/);
    expect(agent.output()).not.toMatch(/TLS handshake failed/);
    // a raw TLS ClientHello-like start gets no byte back: no ServerHello, just a close
    const raw = await rawExchange(agent.port, Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0, 0, 1, 0]));
    expect(raw.reply.length).toBe(0);
    expect(raw.closed).toBe(true);
    expect(await checkNrpe(agent.port, ['-b', '127.0.0.2', '-c', 'hello'])).toMatchObject({ code: 0, stdout: 'allowed\n' });

    const cidr = await startAgent({ config: 'allowed_hosts=192.0.2.1, 127.0.0.0/30\ncommand[hello]=/bin/echo cidr ok' });
    expect(await checkNrpe(cidr.port, ['-b', '127.0.0.3', '-c', 'hello'])).toMatchObject({ code: 0, stdout: 'cidr ok\n' });
    expect((await checkNrpe(cidr.port, ['-b', '127.0.0.5', '-c', 'hello'])).stdout).not.toMatch(/cidr ok/);

    const named = await startAgent({ config: 'allowed_hosts=localhost\ncommand[hello]=/bin/echo by name' });
    expect(await checkNrpe(named.port, ['-c', 'hello'])).toMatchObject({ code: 0, stdout: 'by name\n' });
  });
});
