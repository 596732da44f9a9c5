/**
 * The impure part of check_ha_keepalived: reading the notify state file or a dump
 * (optionally asking keepalived to write a fresh one), checking that keepalived runs,
 * remembering states between runs, and probing MASTER addresses on the segment.
 */
import { createHash } from 'node:crypto';
import { mkdir, stat } from 'node:fs/promises';
import { InputError, readBoundedFile } from '../../nagios/input.ts';
import { join } from 'node:path';
import { PluginError, type PluginContext } from '../../nagios/plugin.ts';
import { replaceFile } from '../lib/files.ts';
import { describeFailure, runPrivileged } from '../lib/privileged.ts';
import type { VrrpInstance } from './parse.ts';

export const DEFAULT_STATE_FILE = '/var/lib/hawatch/keepalived/state';
export const DEFAULT_PID_FILE = '/run/keepalived.pid';
export const DEFAULT_STATE_DIR = '/var/lib/hawatch';

/** Bounded, regular files only (nagios/input.ts); text and modification time from one open. */
export async function readTextFile(path: string, what: string, signal?: AbortSignal): Promise<{ text: string; mtimeMs: number }> {
  try {
    return await readBoundedFile(path, { signal });
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    if (e.kind === 'not-found') throw new PluginError(`${what} '${path}' does not exist`);
    if (e.kind === 'permission') throw new PluginError(`cannot read ${what} '${path}': permission denied (keepalived writes dumps with umask 0177: start it with --umask=0133, or run the check as root)`);
    throw new PluginError(`cannot read ${what} '${path}': ${e.reason}`);
  }
}

export async function fileExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export interface ProcessStatus {
  readonly running: boolean;
  readonly pid?: number | undefined;
  readonly detail: string;
}

/** Whether the pid file names a live keepalived process (/proc is readable by anyone). */
export async function keepalivedProcess(pidFile: string): Promise<ProcessStatus> {
  let pidText: string;
  try {
    pidText = (await readBoundedFile(pidFile, { maxBytes: 4096 })).text;
  } catch (e) {
    const err = e instanceof InputError ? e : undefined;
    return { running: false, detail: err?.kind === 'not-found' ? `pid file ${pidFile} does not exist` : `cannot read pid file ${pidFile}: ${err?.reason ?? (e as Error).message}` };
  }
  const pid = Number(pidText.trim());
  if (!Number.isInteger(pid) || pid <= 0) return { running: false, detail: `pid file ${pidFile} holds no pid` };
  try {
    const comm = (await readBoundedFile(`/proc/${pid}/comm`, { maxBytes: 4096 })).text.trim();
    if (!comm.startsWith('keepalived')) return { running: false, pid, detail: `pid ${pid} from ${pidFile} is '${comm}', not keepalived (stale pid file)` };
    return { running: true, pid, detail: `keepalived runs as pid ${pid}` };
  } catch {
    return { running: false, pid, detail: `no process ${pid} (stale pid file ${pidFile})` };
  }
}

export function signalSudoersRule(signum: number, pidFile: string): string {
  return `nagios ALL=(root) NOPASSWD: /usr/bin/pkill --signal ${signum} -F ${pidFile} -x keepalived`;
}

/** The signal number keepalived uses for a dump (`keepalived --signum=JSON`). */
export async function signalNumber(ctx: PluginContext, keepalived: string, what: 'JSON' | 'DATA'): Promise<number> {
  const res = await runPrivileged(ctx, { file: keepalived, args: [`--signum=${what}`], debianPackage: 'keepalived', sudoersRule: '(not needed)', sudo: false, timeoutMs: 3000 });
  const n = Number(res.stdout.trim());
  if (res.exitCode !== 0 || !Number.isInteger(n) || n <= 0) {
    if (what === 'JSON') throw new PluginError(`this keepalived cannot write JSON dumps (${describeFailure(`${keepalived} --signum=JSON`, res)}): it was built without --enable-json; use --source data or the notify state file`);
    throw new PluginError(describeFailure(`${keepalived} --signum=${what}`, res));
  }
  return n;
}

/**
 * Asks keepalived to write a dump and waits until the file is newer than the request.
 * pkill -F with -x keepalived signals only a process named keepalived, so a stale pid
 * file cannot make us send a real-time signal (default action: terminate) to anything else.
 */
export async function triggerDump(ctx: PluginContext, opts: { keepalived: string; what: 'JSON' | 'DATA'; pidFile: string; dumpFile: string; sudo: boolean; waitMs: number }): Promise<void> {
  const signum = await signalNumber(ctx, opts.keepalived, opts.what);
  let before = 0;
  try {
    before = (await stat(opts.dumpFile)).mtimeMs;
  } catch {
    /* not there yet */
  }
  const requested = Date.now();
  const res = await runPrivileged(ctx, {
    file: '/usr/bin/pkill',
    args: ['--signal', String(signum), '-F', opts.pidFile, '-x', 'keepalived'],
    debianPackage: 'procps',
    sudoersRule: signalSudoersRule(signum, opts.pidFile),
    sudo: opts.sudo,
    timeoutMs: 3000,
  });
  if (res.exitCode === 1) throw new PluginError(`keepalived is not running (no keepalived process for pid file ${opts.pidFile})`, 2);
  if (res.exitCode !== 0) {
    if (/pidfile|No such file/i.test(res.stderr)) throw new PluginError(`keepalived is not running: cannot read pid file ${opts.pidFile} (${res.stderr.trim().split('\n')[0]})`, 2);
    throw new PluginError(describeFailure('pkill', res));
  }
  const deadline = Date.now() + Math.min(opts.waitMs, ctx.remainingMs());
  let lastSize = -1;
  while (Date.now() < deadline) {
    try {
      const st = await stat(opts.dumpFile);
      // Done when rewritten after our request and no longer growing.
      if (st.mtimeMs > before && st.mtimeMs >= requested - 1000 && st.size > 0 && st.size === lastSize) return;
      lastSize = st.size;
    } catch {
      /* not written yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new PluginError(`keepalived did not write ${opts.dumpFile} within ${opts.waitMs / 1000} s after the signal (is --dump-dir keepalived's TMPDIR? a systemd PrivateTmp hides it)`);
}

/** What we remember between runs, per instance. */
export interface RememberedInstance {
  readonly state: string;
  readonly lastTransition?: number | undefined;
  readonly advertReceived?: number | undefined;
  /** Epoch seconds of state changes seen, newest last. */
  readonly changes: readonly number[];
}

export type Memory = Record<string, RememberedInstance>;

export function memoryPath(stateDir: string, source: string): string {
  const h = createHash('sha256').update(source).digest('hex').slice(0, 12);
  return join(stateDir, `keepalived-${h}.json`);
}

export async function loadMemory(path: string): Promise<Memory | undefined> {
  try {
    const data = JSON.parse((await readBoundedFile(path)).text) as unknown;
    return typeof data === 'object' && data !== null ? (data as Memory) : undefined;
  } catch {
    return undefined;
  }
}

/** Writes atomically; returns an error text instead of throwing (tracking is best effort). */
export async function saveMemory(path: string, dir: string, memory: Memory): Promise<string | undefined> {
  try {
    await mkdir(dir, { recursive: true });
    await replaceFile(path, JSON.stringify(memory), 0o644);
    return undefined;
  } catch (e) {
    return `cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
  }
}

