/**
 * Issue 9 item 8: `-t N:STATE` is honoured whatever stage the check is at. Real servers that
 * accept a connection and never answer (TCP and a UNIX socket, in this test), and a command that
 * hangs: every check answers STATE with a "timed out after N s" line, within about -t. Before,
 * the sub-timeouts (given the time left minus a margin) fired first and the connection checks
 * reported CRITICAL ("no answer within 1.7 s").
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPlugin, PluginError, type PluginDescriptor } from '../../nagios/plugin.ts';
import { leaf } from '../../nagios/result.ts';
import { State } from '../../nagios/states.ts';
import { binPath, runBin } from '../support/bin.ts';
import { freePort } from '../support/ports.ts';
import { removeDir, tempDir } from '../support/tmp.ts';

let dir: string;
let tcp: Server;
let unix: Server;
let http: HttpServer;
let port: number;
let httpPort: number;
let socketPath: string;
const held: Socket[] = [];

function listen(server: Server | HttpServer, where: number | string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    if (typeof where === 'number') server.listen(where, '127.0.0.1', () => resolve());
    else server.listen(where, () => resolve());
  });
}

beforeAll(async () => {
  for (const b of ['check_ha_mysql', 'check_ha_pgsql', 'check_ha_haproxy', 'check_ha_galera', 'check_ha_drbd']) binPath(b);
  dir = tempDir('hawatch-tstate-');
  // Accept, read, never answer: a hung server (or a firewall that lets the handshake through).
  const hang = (s: Socket): void => {
    held.push(s);
    s.on('error', () => undefined);
    s.resume();
  };
  // allowHalfOpen: a client that ends its side (the stats socket protocol does) still gets no answer.
  tcp = createServer({ allowHalfOpen: true }, hang);
  port = await freePort();
  await listen(tcp, port);
  socketPath = join(dir, 'haproxy.sock');
  unix = createServer({ allowHalfOpen: true }, hang);
  await listen(unix, socketPath);
  http = createHttpServer(() => undefined); // takes the request, never responds
  http.on('connection', (s) => held.push(s));
  httpPort = await freePort();
  await listen(http, httpPort);
});

afterAll(async () => {
  for (const s of held) s.destroy();
  await Promise.all([tcp, unix, http].map((s) => new Promise((r) => s.close(r))));
  removeDir(dir);
});

const cases: [string, string, () => string[]][] = [
  ['check_ha_mysql', 'MYSQL REPLICATION', () => ['-H', `127.0.0.1:${port}`]],
  ['check_ha_galera', 'GALERA', () => ['-H', `127.0.0.1:${port}`]],
  ['check_ha_pgsql', 'PGSQL', () => ['-H', `127.0.0.1:${port}`]],
  ['check_ha_haproxy', 'HAPROXY', () => ['--socket', socketPath]],
  ['check_ha_haproxy', 'HAPROXY', () => ['--url', `http://127.0.0.1:${httpPort}/stats`]],
];

describe('a server that accepts and never answers: the -t state wins', () => {
  for (const [bin, prefix, args] of cases) {
    it(`${bin} ${args()[0]} -t 2:ok exits 0 within about 2 s`, async () => {
      const r = await runBin(bin, [...args(), '-t', '2:ok'], { killAfterMs: 10_000 });
      expect(r.stdout).toMatch(new RegExp(`^${prefix} OK - plugin timed out after 2 s`));
      expect(r.code).toBe(0);
      expect(r.ms).toBeLessThan(4000); // -t 2 plus node start-up on a loaded 2-core CI machine
    });
  }

  it('-t 2:warning and -t 2 (UNKNOWN) as well', async () => {
    const w = await runBin('check_ha_mysql', ['-H', `127.0.0.1:${port}`, '-t', '2:warning'], { killAfterMs: 10_000 });
    expect(w.code).toBe(1);
    const u = await runBin('check_ha_pgsql', ['-H', `127.0.0.1:${port}`, '-t', '2'], { killAfterMs: 10_000 });
    expect(u.code).toBe(3);
    expect(u.stdout).toMatch(/^PGSQL UNKNOWN - plugin timed out after 2 s/);
  });
});

describe('a command that hangs: the -t state wins', () => {
  it('check_ha_drbd with a hanging drbdsetup, -t 2:ok, exits 0', async () => {
    const hang = join(dir, 'drbdsetup');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(hang, '#!/bin/sh\nexec sleep 30\n', { mode: 0o755 });
    const r = await runBin('check_ha_drbd', ['--source', 'status-json', '--drbdsetup', hang, '-t', '2:ok'], { killAfterMs: 10_000 });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^DRBD OK - plugin timed out after 2 s while running .*drbdsetup/);
    expect(r.ms).toBeLessThan(4000); // -t 2 plus node start-up on a loaded 2-core CI machine
  });
});

describe('the runner decides, not the plugin', () => {
  const base = { name: 'check_t', prefix: 'T', description: 't', options: [] } as const;

  it('a sub-timeout given all the time left fires after -t', async () => {
    const d: PluginDescriptor = {
      ...base,
      async run(ctx) {
        // What a connection with connectTimeout = remainingMs() does when nothing answers.
        await new Promise((resolve) => setTimeout(resolve, ctx.remainingMs()));
        return leaf('db', State.CRITICAL, 'no answer within the time left');
      },
    };
    const r = await runPlugin(d, ['-t', '0.5:ok']);
    expect(r).toEqual({ exitCode: 0, text: 'T OK - plugin timed out after 0.5 s (raise -t, or check why the data source is slow)\n' });
  });

  it('an error the plugin throws because of the abort (connection closed) is not its state', async () => {
    const d: PluginDescriptor = {
      ...base,
      async run(ctx) {
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
        throw new PluginError('connection lost', State.CRITICAL);
      },
    };
    expect((await runPlugin(d, ['-t', '0.3:warning'])).exitCode).toBe(1);
  });

  it('a check that finishes in time keeps its own state', async () => {
    const d: PluginDescriptor = { ...base, run: async () => leaf('db', State.CRITICAL, 'replication broken') };
    expect(await runPlugin(d, ['-t', '2:ok'])).toMatchObject({ exitCode: 2 });
  });
});
