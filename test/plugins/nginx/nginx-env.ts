/**
 * Test helper: a real nginx (Debian package, non-daemon, its own -p prefix and config on free
 * loopback ports) in front of small Node HTTP backends. Upstreams:
 *   app: app1, app2 (max_fails=1 fail_timeout=30s), app3 marked down;
 *   web: web1 (max_fails=0: never taken out, every request tries it) and a backup web2;
 *   sock: a backend on a unix socket; tls: a backend nginx reaches by proxy_pass https://.
 * A wrapper script runs `nginx -p DIR -c DIR/nginx.conf "$@"`, so the check's `nginx -T` reads
 * this instance's configuration through --nginx.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { freePort } from '../../support/ports.ts';
import { stopChild } from '../../support/process.ts';
import { requireFile } from '../../support/require.ts';
import { removeDir, tempDir } from '../../support/tmp.ts';
import { waitFor } from '../../support/wait.ts';

export const NGINX = '/usr/sbin/nginx';

/** A tiny HTTP backend: /health answers 200 (or `healthStatus`), the rest `ok NAME`. */
export class Backend {
  readonly name: string;
  port = 0;
  healthStatus = 200;
  private server: Server | undefined;
  /** Listen on this unix socket instead of a loopback port. */
  readonly path: string | undefined;
  /** Serve HTTPS with this key and certificate. */
  readonly tls: { key: string; cert: string } | undefined;

  constructor(name: string, opts: { path?: string; tls?: { key: string; cert: string } } = {}) {
    this.name = name;
    this.path = opts.path;
    this.tls = opts.tls;
  }

  async start(): Promise<void> {
    const handler = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
      res.setHeader('connection', 'close');
      res.statusCode = req.url === '/health' ? this.healthStatus : 200;
      res.end(`ok ${this.name}\n`);
    };
    const server: Server = this.tls ? createTlsServer(this.tls, handler) : createServer(handler);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      if (this.path) server.listen(this.path, () => resolve());
      else server.listen(this.port, '127.0.0.1', () => resolve());
    });
    if (!this.path) this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async kill(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

export interface NginxEnv {
  readonly dir: string;
  readonly wrapper: string;
  readonly errorLog: string;
  readonly stateDir: string;
  readonly port: number;
  readonly backends: Record<'app1' | 'app2' | 'app3' | 'web1' | 'web2' | 'sock' | 'tls', Backend>;
  /** GET through nginx; resolves with the status (502 when no upstream answered). */
  get(path: string): Promise<number>;
  /** Sends SIGUSR1: nginx reopens its log files (what logrotate's postrotate does). */
  reopenLogs(): void;
  /** Stops nginx only (SIGQUIT, graceful), leaving its files. */
  stopNginx(): Promise<void>;
  stop(): Promise<void>;
}

export async function startNginx(): Promise<NginxEnv> {
  requireFile(NGINX, ['nginx-light']);
  const dir = tempDir('hawatch-nginx-', { mode: 0o755 });
  const stateDir = join(dir, 'state');
  mkdirSync(join(dir, 'logs'));
  // A throwaway self-signed certificate for the https backend (nginx does not verify it by default).
  const key = join(dir, 'tls.key');
  const cert = join(dir, 'tls.crt');
  const ossl = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=tls'], { encoding: 'utf8' });
  if (ossl.status !== 0) throw new Error(`openssl could not make the test certificate (install the Debian package openssl): ${ossl.stderr}`);
  const tls = { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
  const backends = {
    app1: new Backend('app1'), app2: new Backend('app2'), app3: new Backend('app3'), web1: new Backend('web1'), web2: new Backend('web2'),
    sock: new Backend('sock', { path: join(dir, 'sock.sock') }), tls: new Backend('tls', { tls }),
  };
  for (const b of Object.values(backends)) await b.start();
  const port = await freePort();
  const errorLog = join(dir, 'logs', 'error.log');
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    [
      'daemon off;',
      'user root;',
      'worker_processes 1;',
      `pid ${dir}/nginx.pid;`,
      `error_log ${errorLog} warn;`,
      'events { worker_connections 64; }',
      'http {',
      '  access_log off;',
      `  include ${dir}/upstreams/*.conf;`,
      '  server {',
      `    listen 127.0.0.1:${port};`,
      '    proxy_connect_timeout 1s;',
      '    location /app/ { proxy_pass http://app; }',
      '    location /web/ { proxy_pass http://web; }',
      '    location /sock/ { proxy_pass http://sock; }',
      '    location /tls/ { proxy_pass https://tls; }',
      '    location = /nginx_status { stub_status; }',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  mkdirSync(join(dir, 'upstreams'));
  writeFileSync(
    join(dir, 'upstreams', 'app.conf'),
    [
      'upstream app {',
      `  server 127.0.0.1:${backends.app1.port} max_fails=1 fail_timeout=30s;`,
      `  server 127.0.0.1:${backends.app2.port} max_fails=1 fail_timeout=30s;`,
      `  server 127.0.0.1:${backends.app3.port} down;`,
      '}',
      'upstream web {',
      `  server 127.0.0.1:${backends.web1.port} max_fails=0;`,
      `  server 127.0.0.1:${backends.web2.port} backup;`,
      '}',
      `upstream sock { server unix:${backends.sock.path}; }`,
      `upstream tls { server 127.0.0.1:${backends.tls.port}; }`,
      '',
    ].join('\n'),
  );
  const wrapper = join(dir, 'nginx-wrapper');
  writeFileSync(wrapper, `#!/bin/sh\nexec ${NGINX} -p ${dir}/ -e ${errorLog} -c ${conf} "$@"\n`, { mode: 0o755 });
  const t = spawnSync(wrapper, ['-t'], { encoding: 'utf8' });
  if (t.status !== 0) throw new Error(`nginx -t rejected the test config: ${t.stderr}`);
  const child: ChildProcess = spawn(wrapper, [], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);
  const get = (path: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
  const env: NginxEnv = {
    dir,
    wrapper,
    errorLog,
    stateDir,
    port,
    backends,
    get,
    reopenLogs: () => child.kill('SIGUSR1'),
    stopNginx: () => stopChild(child, 3000, 'SIGQUIT'),
    async stop() {
      process.removeListener('exit', onExit);
      await stopChild(child, 3000, 'SIGQUIT');
      for (const b of Object.values(backends)) await b.kill();
      removeDir(dir);
    },
  };
  try {
    await waitFor('nginx answering', async () => (await get('/nginx_status')) === 200, 10_000, { stopWhen: () => (child.exitCode !== null ? `nginx exited: ${stderr}` : undefined) });
  } catch (e) {
    await env.stop();
    throw e;
  }
  return env;
}
