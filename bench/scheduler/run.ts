/**
 * Pieces shared by the benchmarks that run the built server against an NRPE agent on
 * loopback (bench:scheduler, bench:ha): processes started detached and killed whatever
 * happens, the agent, the server's /metrics and service view, latency summaries.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, openSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { renderNrpeConfig } from '../../nagios/config.ts';
import { MachineMeter, percentile, TreeMeter } from './proc.ts';

export const PLUGINS = '/usr/lib/nagios/plugins';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export const log = (msg: string): void => {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => res(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

export async function waitForPort(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((res) => {
      const s = createServer();
      s.once('error', () => res(true));
      s.listen(port, '127.0.0.1', () => s.close(() => res(false)));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${ms} ms`);
}

export function requireFile(path: string, pkg: string): void {
  if (!existsSync(path)) throw new Error(`${path} is missing: install the Debian package ${pkg}`);
}

export interface Started {
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/** Everything this run started, stopped on exit whatever happens. */
const startedProcesses = new Set<Started>();

/** In its own process group, so stop() and killAllStarted() reach its children too. */
export function startDetached(cmd: string, args: string[], logFile: string, env?: NodeJS.ProcessEnv): Started {
  const out = openSync(logFile, 'a');
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', out, out], env: env ?? process.env });
  const started: Started = {
    child,
    stop: async () => {
      startedProcesses.delete(started);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        /* gone */
      }
      await Promise.race([gone, sleep(10_000)]);
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    },
  };
  startedProcesses.add(started);
  return started;
}

export function killAllStarted(): void {
  for (const s of startedProcesses) {
    try {
      process.kill(-s.child.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

export interface Agent extends Started {
  readonly kind: 'hawatch-agent' | 'nrpe';
  readonly port: number;
  readonly meter: TreeMeter;
  /** Started with the agent's meter: the same window. */
  readonly machine: MachineMeter;
}

/** hawatch-agent (agentBin) or stock nrpe on a free loopback port, running `commands`. */
export async function startAgent(dir: string, o: { target: string; agentBin: string; commands: Record<string, string>; agentExtra?: Record<string, string> }): Promise<Agent> {
  const useAgent = o.target === 'agent' || (o.target === 'auto' && existsSync(o.agentBin));
  if (o.target === 'agent' && !existsSync(o.agentBin)) throw new Error(`${o.agentBin} is not built (npm run build)`);
  if (!useAgent) requireFile('/usr/sbin/nrpe', 'nagios-nrpe-server');
  // Another program may take the free port before the agent binds it (a busy machine):
  // a new port then, a few times.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const started = startAgentOn(dir, port, useAgent, o);
    const exited = new Promise<'exited'>((r) => started.child.once('exit', () => r('exited')));
    const up = await Promise.race([waitForPort(port, 15_000).then(() => 'up' as const), exited]);
    if (up === 'up') return { ...started, kind: useAgent ? 'hawatch-agent' : 'nrpe', port, meter: new TreeMeter(started.child.pid!), machine: new MachineMeter() };
    if (attempt >= 3) throw new Error(`the agent exited at start three times: see ${join(dir, 'agent.log')}`);
  }
}

function startAgentOn(dir: string, port: number, useAgent: boolean, o: { agentBin: string; commands: Record<string, string>; agentExtra?: Record<string, string> }): Started {
  const cfg = join(dir, 'agent.cfg');
  writeFileSync(
    cfg,
    renderNrpeConfig({
      serverPort: port,
      serverAddress: '127.0.0.1',
      allowedHosts: ['127.0.0.1'],
      nrpeUser: 'nagios',
      nrpeGroup: 'nagios',
      pidFile: join(dir, 'agent.pid'),
      debug: false,
      commandTimeout: 60,
      connectionTimeout: 300,
      // nrpe's default backlog of 5 drops SYNs under a burst of checks (1 s retransmits).
      listenQueueSize: 256,
      commands: o.commands,
      // hawatch-agent's own keys (stock nrpe would warn about them).
      ...(useAgent && o.agentExtra ? { extra: o.agentExtra } : {}),
    }),
  );
  chmodSync(cfg, 0o644);
  return useAgent
    ? startDetached(process.execPath, [o.agentBin, '-c', cfg], join(dir, 'agent.log'))
    : startDetached('/usr/sbin/nrpe', ['-c', cfg, '-f'], join(dir, 'agent.log'));
}

/** One sample of a Prometheus text exposition (the first series of that name). */
export function metric(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

/** The fields of GET /api/v1/services the benchmarks read. */
export interface ServiceView {
  readonly key: string;
  readonly kind: string;
  readonly lastCheck: number | null;
  readonly nextCheck: number | null;
  readonly state: number;
  readonly checked: boolean;
  readonly output: string;
}

export interface LatencySummary {
  p50: number;
  p99: number;
  max: number;
  samples: number;
}

export function summarize(latenciesMs: readonly number[]): LatencySummary {
  const s = [...latenciesMs].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p99: percentile(s, 99), max: s.length ? s[s.length - 1]! : NaN, samples: s.length };
}
