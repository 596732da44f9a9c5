/**
 * Several hawatch-server instances on one PostgreSQL in a test (issue 14): a real SMTP sink,
 * local checks whose state the test flips through files (each run logs the pid of the server
 * that ran it, so the test sees which instance checked what and when), the inventory, and
 * the built server started as a real process (in the root namespace or through a Lab).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './ports.ts';
import { startSmtpSink, type SmtpSink } from './smtp.ts';
import { stopChild } from './process.ts';
import { waitFor } from './wait.ts';

export const SERVER_BIN = join(process.cwd(), 'dist/bin/hawatch-server.cjs');

export function requireServerBuild(): void {
  if (!existsSync(SERVER_BIN)) throw new Error(`${SERVER_BIN} is missing: run npm run build first (npm test does)`);
}

export interface Mail { readonly subject: string; readonly text: string }

/** An SMTP server that keeps every message and answers with a queue id. */
export class MailSink {
  readonly mails: Mail[] = [];
  private sink: SmtpSink | null = null;
  port = 0;

  async start(host = '127.0.0.1'): Promise<this> {
    this.sink = await startSmtpSink({ host, onMail: (m) => this.mails.push({ subject: m.subject, text: m.raw }) });
    this.port = this.sink.port;
    return this;
  }

  count(subject: string): number {
    return this.mails.filter((m) => m.subject === subject).length;
  }

  possibleDuplicates(): string[] {
    return this.mails.filter((m) => /possible duplicate/i.test(m.subject)).map((m) => m.subject);
  }

  close(): Promise<void> {
    return this.sink?.close() ?? Promise.resolve();
  }
}

export const problem = (h: string): string => `** PROBLEM Service Alert: ${h}/flip is CRITICAL **`;
export const recovery = (h: string): string => `** RECOVERY Service Alert: ${h}/flip is OK **`;

export interface Run { readonly at: number; readonly pid: number; readonly key: string }

/** One service `flip` per host, run by /bin/sh; its exit code is the content of <host>.state. */
export class FlipChecks {
  readonly script: string;
  readonly dir: string;
  readonly hosts: readonly string[];
  constructor(dir: string, hosts: readonly string[]) {
    this.dir = dir;
    this.hosts = hosts;
    this.script = join(dir, 'check.sh');
    writeFileSync(this.script, `#!/bin/sh\necho "$(date +%s%N) $PPID $2" >> ${join(dir, 'runs.log')}\nexit "$(cat "$1")"\n`, { mode: 0o755 });
    for (const h of hosts) this.set(h, 0);
  }

  set(host: string, state: number): void {
    writeFileSync(join(this.dir, `${host}.state`), String(state));
  }

  /** Every run so far: wall-clock ms, the pid of the server that ran it, the host. */
  runs(): Run[] {
    const f = join(this.dir, 'runs.log');
    const text = existsSync(f) ? readFileSync(f, 'utf8') : '';
    return text.split('\n').filter(Boolean).map((l) => {
      const [ns, pid, key] = l.split(' ');
      return { at: Number(BigInt(ns as string) / 1_000_000n), pid: Number(pid), key: key as string };
    });
  }

  /** The pid of the server that ran this host's check last. */
  ownerPid(host: string): number | undefined {
    return this.runs().filter((r) => r.key === host).at(-1)?.pid;
  }

  /** The inventory's hosts and services sections. */
  yaml(): string {
    return `hosts:
${this.hosts.map((h) => `  ${h}: { address: 127.0.0.1, local: true, check: none, contacts: [ops] }`).join('\n')}
services:
${this.hosts.map((h) => `  - { name: flip, host: ${h}, command: /bin/sh ${this.script} ${join(this.dir, `${h}.state`)} ${h} }`).join('\n')}
`;
  }
}

/** The inventory every instance loads: fast intervals, a HARD state after two results, no re-notification. */
export function haInventory(o: { database: string; shards: number; leaseMs: number; smtpHost: string; smtpPort: number; checks: FlipChecks }): string {
  return `
server:
  database: ${o.database}
  ha: { shards: ${o.shards}, lease: ${o.leaseMs / 1000}s, contacts: [admin] }
defaults: { check_interval: 2s, retry_interval: 1s, max_check_attempts: 2, notification_interval: 0, timeout: 5s }
notifications:
  email: { smtp: { host: ${o.smtpHost}, port: ${o.smtpPort}, security: none, timeout: 3s }, from: hawatch@test.invalid }
  group_window: 0s
  group_threshold: 50
  retry: { initial: 500ms, max: 2s }
contacts:
  ops: { email: ops@test.invalid }
  admin: { email: admin@test.invalid }
${o.checks.yaml()}`;
}

export interface HealthBody {
  ok: boolean;
  error?: string;
  ha?: { instance: string; owned: number[]; postgres: boolean; lastError: string | null; leaseAgeS: number | null };
}

export interface ServerInstance {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly base: string;
  log(): string;
}

/** GET /healthz: the status code and body, or null when the server does not answer within 1.5 s. */
export async function health(i: ServerInstance): Promise<{ code: number; body: HealthBody } | null> {
  try {
    const r = await fetch(`${i.base}/healthz`, { signal: AbortSignal.timeout(1500) });
    return { code: r.status, body: (await r.json()) as HealthBody };
  } catch {
    return null;
  }
}

/** Waits until /healthz says 200; fails at once, quoting the log, when the server exits. */
export async function ready(i: ServerInstance, timeoutMs = 45_000): Promise<ServerInstance> {
  try {
    await waitFor(`instance ${i.name} healthy`, async () => (await health(i))?.code === 200, timeoutMs, {
      stopWhen: () => (i.child.exitCode !== null ? `it exited with ${i.child.exitCode}` : undefined),
    });
  } catch (e) {
    throw new Error(`${(e as Error).message}: ${i.log().slice(-2000)}`);
  }
  return i;
}

/** Starts the built server in this namespace on a free loopback port; `children` collects it for afterAll. */
export async function startServer(name: string, inventory: string, env: NodeJS.ProcessEnv, children: ChildProcess[]): Promise<ServerInstance> {
  const port = await freePort();
  const child = spawn(process.execPath, [SERVER_BIN, '--config', inventory, '--listen', `127.0.0.1:${port}`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let log = '';
  const keep = (d: Buffer) => {
    log = (log + d.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return ready({ name, child, pid: child.pid as number, base: `http://127.0.0.1:${port}`, log: () => log });
}

/** SIGKILL (after SIGCONT, should a test have paused one) of the servers a test started. */
export async function killAll(children: readonly ChildProcess[]): Promise<void> {
  await Promise.all(children.map((c) => {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGCONT');
    return stopChild(c, 3000, 'SIGKILL');
  }));
}
