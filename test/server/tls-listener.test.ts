// server.tls: the server's own HTTPS listener (agents push over https only). A client that
// trusts the CA gets the page and the API over TLS, plain HTTP on the same port gets no
// answer from the API, and the inventory refuses relative paths and unknown keys.
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../server/core/runtime.ts';
import { createExecutor } from '../../server/executors/index.ts';
import { InventoryError, loadInventory } from '../../server/inventory/load.ts';
import { makePki, type Pki } from './executors/daemons.ts';
import { removeDir, tempDir } from '../support/tmp.ts';

let dir = '';
let pki: Pki;
let rt: Runtime | undefined;
let port = 0;

function get(mod: typeof httpsRequest | typeof httpRequest, path: string, opts: Record<string, unknown> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = mod({ host: '127.0.0.1', port, path, timeout: 5000, ...opts }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  dir = tempDir('hawatch-tls-listener-');
  pki = makePki(join(dir, 'pki'));
  rt = await createRuntime({
    inventory: loadInventory(`
server: { tls: { cert_file: ${pki.serverCert}, key_file: ${pki.serverKey} } }
hosts:
  a: { local: true }
`),
    executorFactory: createExecutor,
    database: ':memory:',
    autoStart: false,
  });
  const addr = await rt.app.listen({ host: '127.0.0.1', port: 0 });
  expect(addr.startsWith('https://')).toBe(true);
  port = Number(new URL(addr).port);
}, 30_000);

afterAll(async () => {
  await rt?.stop();
  if (dir) removeDir(dir);
});

describe('server.tls', () => {
  it('serves the API over HTTPS with the configured certificate', async () => {
    const r = await get(httpsRequest, '/healthz', { ca: readFileSync(pki.caCert), servername: 'localhost' });
    expect(r).toEqual({ status: 200, body: '{"ok":true}' });
  });

  it('a client pinned to another CA is refused by its own verification', async () => {
    await expect(get(httpsRequest, '/healthz', { ca: readFileSync(pki.otherCaCert) })).rejects.toThrow(/certificate|self.signed|verify/i);
  });

  it('plain HTTP on the TLS port gets no API answer', async () => {
    const r = await get(httpRequest, '/healthz').catch((e: Error) => ({ status: -1, body: e.message }));
    expect(r.status).not.toBe(200);
  });

  it('the inventory wants absolute paths, both files and no other key', () => {
    const problems = (text: string): string[] => {
      try {
        loadInventory(text);
        return [];
      } catch (e) {
        return [...(e as InventoryError).problems];
      }
    };
    expect(problems('server: { tls: { cert_file: a.crt, key_file: /k } }\nhosts: { a: { local: true } }').join('\n')).toMatch(/server\.tls\.cert_file.*absolute/);
    expect(problems('server: { tls: { cert_file: /a.crt } }\nhosts: { a: { local: true } }').join('\n')).toMatch(/key_file.*required/);
    expect(problems('server: { tls: { cert_file: /a, key_file: /k, ca: /c } }\nhosts: { a: { local: true } }').join('\n')).toMatch(/ca/);
  });

  it('a missing file stops the start with a message naming the setting', async () => {
    await expect(createRuntime({
      inventory: loadInventory(`server: { tls: { cert_file: ${join(dir, 'none.crt')}, key_file: ${pki.serverKey} } }\nhosts: { a: { local: true } }`),
      executorFactory: createExecutor,
      database: ':memory:',
      autoStart: false,
    })).rejects.toThrow(/server\.tls\.cert_file .*none\.crt cannot be read/);
  });
});
