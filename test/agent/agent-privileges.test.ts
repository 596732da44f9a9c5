/**
 * Issue 9 item 1: nothing is served before the switch to nrpe_user. The built agent is
 * started as root with nrpe_user=nagios and a pid_file, 20 times, while clients hammer
 * `command[id]=/usr/bin/id -u` from the moment the port accepts; no answer may say 0.
 * Also: a FIFO as pid_file opens no window and does not hang the start, and log_file keeps
 * working after SIGHUP (the agent user can reopen it).
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../agent/config.ts';
import { createLogger } from '../../agent/log.ts';
import { createAgent } from '../../agent/server.ts';
import { decodePacket, encodePacket, PacketType } from '../../nagios/nrpe.ts';
import { freePort } from '../support/ports.ts';
import { stopChild } from '../support/process.ts';
import { requireRoot, requireUser } from '../support/require.ts';
import { waitFor } from '../support/wait.ts';
import { AGENT_BIN, checkNrpe, cleanup, onCleanup, requireTools, tempDir } from './helpers.ts';

afterAll(cleanup);

/** One raw v2 query over plain TCP: the answer's text, or undefined when refused/closed. */
function ask(port: number, command = 'id'): Promise<string | undefined> {
  const query = encodePacket({ version: 2, type: PacketType.QUERY, text: command });
  return new Promise((resolve) => {
    const s = new Socket();
    const got: Buffer[] = [];
    const timer = setTimeout(() => s.destroy(), 3000);
    s.on('data', (c: Buffer) => got.push(c));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      try {
        resolve(decodePacket(Buffer.concat(got)).text);
      } catch {
        resolve(undefined);
      }
    });
    s.connect(port, '127.0.0.1', () => s.end(query));
  });
}

/** Starts the agent, hammers it from the first moment, returns every answer and its log. */
async function oneRestart(cfgPath: string, port: number): Promise<{ answers: string[]; out: string }> {
  const proc = spawn(process.execPath, [AGENT_BIN, '-c', cfgPath, '-n'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const answers: string[] = [];
  let stop = false;
  const deadline = Date.now() + 10_000;
  // Eight clients in a tight loop: connection refused until the port is bound, then every
  // answer counts (those that arrive before the agent says "started" most of all).
  const client = async (): Promise<void> => {
    while (!stop && Date.now() < deadline && proc.exitCode === null) {
      const a = await ask(port);
      if (a !== undefined) answers.push(a);
      else await new Promise((r) => setTimeout(r, 1));
    }
  };
  const clients = Array.from({ length: 8 }, client);
  await waitFor('answers after start', () => out.includes('"msg":"started"') && answers.length >= 8, 10_000, { everyMs: 10, stopWhen: () => (proc.exitCode !== null ? `it exited: ${out}` : undefined) });
  stop = true;
  await Promise.all(clients);
  await stopChild(proc, 5000);
  return { answers, out };
}

describe('privilege drop before serving', () => {
  it('20 restarts as root with nrpe_user=nagios and a pid_file, hammered from the first moment: never answers as root', async () => {
    requireTools();
    requireRoot('the agent must start as root to drop to nrpe_user');
    const nagios = requireUser('nagios', 'nagios-nrpe-server');
    const dir = await tempDir();
    const port = await freePort();
    const pidFile = join(dir, 'agent.pid');
    const cfgPath = join(dir, 'agent.cfg');
    await writeFile(cfgPath, [`server_port=${port}`, 'server_address=127.0.0.1', 'nrpe_user=nagios', 'nrpe_group=nagios', `pid_file=${pidFile}`, 'command[id]=/usr/bin/id -u'].join('\n') + '\n');
    const all: string[] = [];
    for (let i = 0; i < 20; i++) {
      const { answers, out } = await oneRestart(cfgPath, port);
      expect(answers.filter((a) => a !== String(nagios.uid)), `restart ${i + 1}: ${out}`).toEqual([]);
      all.push(...answers);
    }
    expect(all.length).toBeGreaterThanOrEqual(160);
    expect(new Set(all)).toEqual(new Set([String(nagios.uid)]));
  }, 120_000);

  it('a FIFO as pid_file neither hangs the start nor opens a window: refused with a warning', async () => {
    requireTools();
    requireRoot('the agent must start as root to drop to nrpe_user');
    const nagios = requireUser('nagios', 'nagios-nrpe-server');
    const dir = await tempDir();
    const port = await freePort();
    const fifo = join(dir, 'agent.pid');
    execFileSync('mkfifo', [fifo]);
    const cfgPath = join(dir, 'agent.cfg');
    await writeFile(cfgPath, [`server_port=${port}`, 'server_address=127.0.0.1', 'nrpe_user=nagios', `pid_file=${fifo}`, 'command[id]=/usr/bin/id -u'].join('\n') + '\n');
    for (let i = 0; i < 3; i++) {
      const { answers, out } = await oneRestart(cfgPath, port);
      expect(new Set(answers), out).toEqual(new Set([String(nagios.uid)]));
      expect(out).toMatch(/"msg":"pid_file not written".*it is a FIFO; use a regular file/);
    }
    expect(statSync(fifo).isFIFO()).toBe(true);
  }, 60_000);

  it('a pid_file that is a hard link to another file is not truncated by root: refused with a warning', async () => {
    requireTools();
    requireRoot('the agent must start as root to drop to nrpe_user');
    requireUser('nagios', 'nagios-nrpe-server');
    const dir = await tempDir();
    const port = await freePort();
    const victim = join(dir, 'precious');
    await writeFile(victim, 'keep me\n');
    const pid = join(dir, 'agent.pid');
    execFileSync('ln', [victim, pid]);
    const cfgPath = join(dir, 'agent.cfg');
    await writeFile(cfgPath, [`server_port=${port}`, 'server_address=127.0.0.1', 'nrpe_user=nagios', `pid_file=${pid}`, 'command[id]=/usr/bin/id -u'].join('\n') + '\n');
    const { out } = await oneRestart(cfgPath, port);
    expect(out).toMatch(/"msg":"pid_file not written".*other hard links/);
    expect(readFileSync(victim, 'utf8')).toBe('keep me\n');
  }, 60_000);

  it('holds connections until serve(): accepted but unanswered before, answered after', async () => {
    requireTools();
    const port = await freePort();
    const agent = createAgent({
      load: () => parseConfigText(`server_port=${port}\nserver_address=127.0.0.1\ncommand[hello]=/bin/echo hello\n`),
      useTls: false,
      plugins: [],
      logger: createLogger('error', () => undefined),
    });
    await agent.start();
    onCleanup(() => agent.close(500));
    const early = ask(port, 'hello');
    const raced = await Promise.race([early, new Promise<'nothing yet'>((r) => setTimeout(() => r('nothing yet'), 400))]);
    expect(raced).toBe('nothing yet');
    agent.serve();
    expect(await early).toBe('hello');
    expect(await ask(port, 'hello')).toBe('hello');
  });
});

describe('held TLS connections', () => {
  it('a check_nrpe over TLS that connects before serve() is answered once serving starts', async () => {
    requireTools();
    const port = await freePort();
    const agent = createAgent({
      load: () => parseConfigText(`server_port=${port}\nserver_address=127.0.0.1\ncommand[hello]=/bin/echo hello\n`),
      useTls: true,
      plugins: [],
      logger: createLogger('error', () => undefined),
    });
    await agent.start();
    onCleanup(() => agent.close(500));
    const early = checkNrpe(port, ['-c', 'hello']);
    await new Promise((r) => setTimeout(r, 400));
    agent.serve();
    expect(await early).toMatchObject({ code: 0, stdout: 'hello\n' });
  });
});

describe('log_file across SIGHUP', () => {
  it('is made the agent user\'s at start, so SIGHUP reopens it and logging goes on there', async () => {
    requireTools();
    requireRoot('the agent must start as root to drop to nrpe_user');
    const nagios = requireUser('nagios', 'nagios-nrpe-server');
    // The folder stays root's (as /var/log is): only the file can be given to the agent user.
    const dir = await tempDir();
    const port = await freePort();
    const logFile = join(dir, 'agent.log');
    const cfgPath = join(dir, 'agent.cfg');
    await writeFile(cfgPath, [`server_port=${port}`, 'server_address=127.0.0.1', 'nrpe_user=nagios', 'nrpe_group=nagios', `log_file=${logFile}`, 'command[hello]=/bin/echo hello'].join('\n') + '\n');
    await chmod(cfgPath, 0o644);
    const proc = spawn(process.execPath, [AGENT_BIN, '-c', cfgPath, '-n'], { stdio: ['ignore', 'pipe', 'pipe'] });
    onCleanup(() => stopChild(proc, 5000));
    let stderr = '';
    proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const log = (): string => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
    await waitFor('the agent to start', () => log().includes('"msg":"started"'), 10_000, { everyMs: 20, stopWhen: () => (proc.exitCode !== null ? `exited: ${stderr}` : undefined) });
    expect(statSync(logFile).uid).toBe(nagios.uid);
    for (let i = 1; i <= 2; i++) {
      proc.kill('SIGHUP');
      await waitFor('the reload', () => log().split('"msg":"reloaded"').length > i, 10_000, { everyMs: 20 });
      expect(await checkNrpe(port, ['-n', '-c', 'hello'])).toMatchObject({ code: 0, stdout: 'hello\n' });
      await waitFor('the request record', () => log().split('"command":"hello"').length > i, 5000, { everyMs: 20 });
    }
    expect(stderr).not.toMatch(/cannot open log_file|EACCES/);
    expect(stderr).toBe('');
  });
});
