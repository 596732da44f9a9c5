/**
 * Test helper: a real HAProxy (foreground, -db) with a stats socket (level admin) in a temp
 * dir and a stats page with basic auth, in front of small Node HTTP servers on loopback
 * ports. Backends can be killed and revived; states are awaited by bounded polling.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';

export const HAPROXY = '/usr/sbin/haproxy';
export const STATS_USER = 'monitor';
export const STATS_PASSWORD = 'st4ts-pw';

export function requireHaproxy(): void {
  if (!existsSync(HAPROXY)) throw new Error(`${HAPROXY} is missing: install the Debian package haproxy`);
  const v = spawnSync(HAPROXY, ['-v'], { encoding: 'utf8' });
  if (v.status !== 0) throw new Error(`${HAPROXY} -v failed: ${v.stderr}`);
}

/** A tiny HTTP backend; `kill()` closes it and drops its connections, `revive()` reopens the same port. */
export class Backend {
  readonly name: string;
  port = 0;
  private server: Server | undefined;

  constructor(name: string) {
    this.name = name;
  }

  async start(): Promise<void> {
    const server = createServer((_req, res) => {
      res.setHeader('connection', 'close');
      res.end(`ok ${this.name}\n`);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async kill(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  revive(): Promise<void> {
    return this.start();
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface HaproxyEnv {
  readonly dir: string;
  readonly socket: string;
  readonly statsUrl: string;
  readonly frontendPort: number;
  readonly backends: Record<'web1' | 'web2' | 'web3' | 'spare' | 'api1', Backend>;
  /** One command on the admin socket. */
  cli(command: string): Promise<string>;
  stop(): Promise<void>;
}

export function socketCommand(path: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let out = '';
    s.setTimeout(5000, () => s.destroy(new Error(`socket command '${command}' timed out`)));
    s.on('connect', () => s.end(`${command}\n`));
    s.on('data', (c: Buffer) => (out += c.toString()));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
}

export async function startHaproxy(): Promise<HaproxyEnv> {
  requireHaproxy();
  const dir = mkdtempSync(join(tmpdir(), 'hawatch-haproxy-'));
  const backends = { web1: new Backend('web1'), web2: new Backend('web2'), web3: new Backend('web3'), spare: new Backend('spare'), api1: new Backend('api1') };
  for (const b of Object.values(backends)) await b.start();
  const frontendPort = await freePort();
  const statsPort = await freePort();
  const socket = join(dir, 'admin.sock');
  const cfg = [
    'global',
    `  stats socket ${socket} mode 600 level admin`,
    '  stats timeout 10s',
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    '  timeout client 10s',
    '  timeout server 10s',
    'frontend fe_web',
    `  bind 127.0.0.1:${frontendPort}`,
    '  maxconn 10',
    '  default_backend be_web',
    'backend be_web',
    '  option httpchk GET /health',
    '  default-server inter 200ms fall 2 rise 2',
    `  server web1 127.0.0.1:${backends.web1.port} check`,
    `  server web2 127.0.0.1:${backends.web2.port} check`,
    `  server web3 127.0.0.1:${backends.web3.port} check`,
    `  server spare 127.0.0.1:${backends.spare.port} check backup`,
    'backend be_api',
    '  option httpchk GET /health',
    `  server api1 127.0.0.1:${backends.api1.port} check inter 200ms fall 2 rise 2`,
    'listen stats',
    `  bind 127.0.0.1:${statsPort}`,
    '  stats enable',
    '  stats uri /stats',
    `  stats auth ${STATS_USER}:${STATS_PASSWORD}`,
    '',
  ].join('\n');
  const cfgFile = join(dir, 'haproxy.cfg');
  writeFileSync(cfgFile, cfg);
  const check = spawnSync(HAPROXY, ['-c', '-f', cfgFile], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`haproxy -c rejected the test config: ${check.stdout}${check.stderr}`);
  const child: ChildProcess = spawn(HAPROXY, ['-f', cfgFile, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);
  const env: HaproxyEnv = {
    dir,
    socket,
    statsUrl: `http://127.0.0.1:${statsPort}/stats`,
    frontendPort,
    backends,
    cli: (command) => socketCommand(socket, command),
    async stop() {
      process.removeListener('exit', onExit);
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      for (const b of Object.values(backends)) await b.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitFor('haproxy stats socket', async () => (await env.cli('show info')).includes('Name: HAProxy'), 10_000);
  } catch (e) {
    await env.stop();
    throw new Error(`${(e as Error).message}; haproxy said: ${stderr}`);
  }
  return env;
}

export async function waitFor(what: string, probe: () => Promise<boolean> | boolean, timeoutMs = 10_000, everyMs = 100): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      if (await probe()) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
}

/** The status column of one server (or FRONTEND/BACKEND row) from `show stat`. */
export async function statusOf(env: HaproxyEnv, proxy: string, server: string): Promise<string | undefined> {
  const text = await env.cli('show stat');
  const lines = text.split('\n');
  const header = (lines[0] ?? '').replace(/^#\s*/, '').split(',');
  const pi = header.indexOf('pxname');
  const si = header.indexOf('svname');
  const st = header.indexOf('status');
  for (const l of lines.slice(1)) {
    const f = l.split(',');
    if (f[pi] === proxy && f[si] === server) return f[st];
  }
  return undefined;
}
