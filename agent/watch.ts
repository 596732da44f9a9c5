/**
 * Watchers: sources that announce their changes make the agent re-run the command they are
 * configured for at once, instead of waiting for the server's next check.
 *
 *   hawatch_watch[check_drbd]=drbdsetup events2              a long-running command: each line is a change
 *   hawatch_watch[check_vrrp]=file:/var/lib/hawatch/keepalived/state   a file replaced, rewritten or touched
 *   hawatch_watch[check_haproxy]=tail:/var/log/haproxy.log   lines appended to a log (with hawatch_watch_match)
 *   hawatch_watch[check_crm]=poll:5                          re-run every 5 s (cheap sources)
 *   hawatch_watch_match[check_haproxy]=is (UP|DOWN)          only lines matching this regex count (exec, tail)
 *
 * A watched command that dies is restarted with exponential backoff (1 s doubling, capped by
 * hawatch_watch_backoff_max) and reported through `down` (the agent logs it and pushes an
 * UNKNOWN result for the watched command). Bounded everywhere: a line keeps at most
 * MAX_LINE bytes (the rest of a longer line is read and dropped), a tail reads at most
 * MAX_TAIL_READ bytes per change.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { watch, type FSWatcher } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute } from 'node:path';
import { findProgram, killProcessGroup } from '../nagios/exec.ts';
import { splitCommandLine } from './shellwords.ts';

export type WatchSpec =
  | { readonly kind: 'exec'; readonly file: string; readonly args: readonly string[] }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'tail'; readonly path: string }
  | { readonly kind: 'poll'; readonly intervalMs: number };

export interface WatchDef {
  /** The command[...] it re-runs. */
  readonly command: string;
  readonly spec: WatchSpec;
  /** exec and tail: only lines matching this count as a change. */
  readonly match?: RegExp | undefined;
  /** FILE:LINE of the definition, for messages. */
  readonly where: string;
}

/** A line longer than this is cut: the rest up to its newline is read and dropped. */
export const MAX_LINE = 64 * 1024;
/** A tail reads at most this much per change; a bigger jump skips to the last MAX_TAIL_READ bytes. */
export const MAX_TAIL_READ = 4 * 1024 * 1024;
export const MIN_POLL_MS = 500;
/** What a command watcher may print per second before its pipe is left unread for the rest of it. */
export const MAX_LINES_PER_S = 5000;
export const MAX_BYTES_PER_S = 64 * 1024 * 1024;
const FIRST_BACKOFF_MS = 1000;
/** A watcher that ran this long before dying starts its backoff from the beginning again. */
const HEALTHY_AFTER_MS = 30_000;

/** Parses the value of hawatch_watch[NAME]; returns an error text (without FILE:LINE) when wrong. */
export function parseWatchSpec(value: string): WatchSpec | string {
  const v = value.trim();
  if (v === '') return 'is empty: give a command, file:PATH, tail:PATH or poll:SECONDS';
  const m = /^(file|tail|poll|exec):(.*)$/.exec(v);
  const kind = m ? m[1]! : 'exec';
  const rest = m ? m[2]!.trim() : v;
  if (kind === 'poll') {
    if (!/^\d+(\.\d+)?$/.test(rest)) return `poll:${rest} needs a number of seconds, e.g. poll:5`;
    const ms = Math.round(Number(rest) * 1000);
    if (ms < MIN_POLL_MS || ms > 86_400_000) return `poll:${rest} must be between ${MIN_POLL_MS / 1000} and 86400 seconds`;
    return { kind: 'poll', intervalMs: ms };
  }
  if (kind === 'file' || kind === 'tail') {
    if (!isAbsolute(rest)) return `${kind}:${rest} needs an absolute path`;
    return { kind, path: rest };
  }
  const split = splitCommandLine(rest);
  if (split.kind !== 'words') return `the command needs a shell (${split.reason}): watchers run without one, write the program and its arguments, or a script`;
  if (split.words.length === 0) return 'has no program';
  return { kind: 'exec', file: split.words[0]!, args: split.words.slice(1) };
}

export function describeSpec(s: WatchSpec): string {
  switch (s.kind) {
    case 'exec':
      return [s.file, ...s.args].join(' ');
    case 'file':
    case 'tail':
      return `${s.kind}:${s.path}`;
    case 'poll':
      return `poll:${s.intervalMs / 1000}`;
  }
}

export interface WatchHooks {
  /** A change was seen: re-run the command (the caller coalesces). */
  readonly change: (command: string, why: string) => void;
  /** The watcher died; it is restarted in `retryMs`. */
  readonly down: (command: string, reason: string, retryMs: number) => void;
  /** The watcher runs (again) after having been down. */
  readonly up: (command: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly backoffMaxMs: number;
  /** How often file and tail watchers stat their file besides fs.watch (default 1000 ms). */
  readonly statPollMs?: number;
}

/** Splits a byte stream into lines, keeping at most MAX_LINE bytes of a line in memory. */
export class LineSplitter {
  private parts: Buffer[] = [];
  private kept = 0;
  private overlong = false;
  private readonly onLine: (line: string, overlong: boolean) => void;
  constructor(onLine: (line: string, overlong: boolean) => void) {
    this.onLine = onLine;
  }
  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      if (end > start) {
        const room = MAX_LINE - this.kept;
        if (end - start > room) this.overlong = true;
        if (room > 0) {
          const piece = chunk.subarray(start, start + Math.min(room, end - start));
          // Copied: a subarray would keep the whole chunk alive.
          this.parts.push(Buffer.from(piece));
          this.kept += piece.length;
        }
      }
      if (nl === -1) return;
      this.onLine(Buffer.concat(this.parts).toString('utf8').replace(/\r$/, ''), this.overlong);
      this.parts = [];
      this.kept = 0;
      this.overlong = false;
      start = nl + 1;
    }
  }
}

interface Running {
  stop(): void;
}

/** One configured watcher, restarted with backoff when it dies. */
class Watcher {
  private current: Running | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;
  private wasDown = false;
  private startedAt = 0;

  readonly def: WatchDef;
  private readonly hooks: WatchHooks;
  constructor(def: WatchDef, hooks: WatchHooks) {
    this.def = def;
    this.hooks = hooks;
  }

  start(): void {
    if (this.stopped) return;
    this.startedAt = Date.now();
    const died = (reason: string): void => this.died(reason);
    const s = this.def.spec;
    try {
      this.current = s.kind === 'exec' ? this.startExec(s, died) : s.kind === 'poll' ? this.startPoll(s) : this.startFile(s, died);
    } catch (e) {
      this.died((e as Error).message);
      return;
    }
    if (this.wasDown) {
      this.wasDown = false;
      this.hooks.up(this.def.command);
      // Whatever changed while the watcher was down was not seen: look now.
      this.hooks.change(this.def.command, 'watcher restarted');
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    this.current?.stop();
    this.current = undefined;
  }

  private died(reason: string): void {
    if (this.stopped) return;
    this.current?.stop();
    this.current = undefined;
    if (Date.now() - this.startedAt >= HEALTHY_AFTER_MS) this.failures = 0;
    const retryMs = Math.min(this.hooks.backoffMaxMs, FIRST_BACKOFF_MS * 2 ** Math.min(this.failures, 20));
    this.failures++;
    this.wasDown = true;
    this.hooks.down(this.def.command, reason, retryMs);
    this.restartTimer = setTimeout(() => this.start(), retryMs);
  }

  private lineMatters(line: string): boolean {
    return this.def.match === undefined || this.def.match.test(line);
  }

  private startExec(s: Extract<WatchSpec, { kind: 'exec' }>, died: (reason: string) => void): Running {
    const path = findProgram(s.file, this.hooks.env.PATH);
    if (path === undefined) throw new Error(`${s.file} was not found in PATH or the sbin directories`);
    let child: ChildProcess;
    let gone = false;
    let stderrTail = '';
    child = spawn(path, [...s.args], { argv0: s.file, env: this.hooks.env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true, shell: false });
    const lines = new LineSplitter((line) => {
      if (this.lineMatters(line)) this.hooks.change(this.def.command, 'watcher line');
    });
    // Bounded rate: beyond MAX_LINES_PER_S lines or MAX_BYTES_PER_S bytes in a second the
    // pipe is not read until the second is over, so a runaway source blocks on its own
    // writes instead of taking the agent's CPU.
    let windowStart = Date.now();
    let windowLines = 0;
    let windowBytes = 0;
    let resume: NodeJS.Timeout | undefined;
    const out = child.stdout!;
    out.on('data', (c: Buffer) => {
      const now = Date.now();
      if (now - windowStart >= 1000) {
        windowStart = now;
        windowLines = 0;
        windowBytes = 0;
      }
      windowBytes += c.length;
      for (let i = c.indexOf(0x0a); i !== -1; i = c.indexOf(0x0a, i + 1)) windowLines++;
      lines.push(c);
      if ((windowLines > MAX_LINES_PER_S || windowBytes > MAX_BYTES_PER_S) && !resume) {
        out.pause();
        resume = setTimeout(() => {
          resume = undefined;
          out.resume();
        }, Math.max(1, windowStart + 1000 - now));
      }
    });
    child.stderr!.on('data', (c: Buffer) => {
      stderrTail = (stderrTail + c.toString('utf8')).slice(-300);
    });
    const end = (reason: string): void => {
      if (gone) return;
      gone = true;
      died(reason);
    };
    child.on('error', (e: NodeJS.ErrnoException) => end(`${s.file} could not be started: ${e.code ?? e.message}`));
    child.on('close', (code, signal) => {
      const err = stderrTail.trim().split('\n').pop()?.trim();
      end(`${s.file} ended (${signal ? `killed by ${signal}` : `exit ${code}`})${err ? `: ${err}` : ''}`);
    });
    return {
      stop: () => {
        gone = true;
        clearTimeout(resume);
        if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) void killProcessGroup(child.pid);
      },
    };
  }

  private startPoll(s: Extract<WatchSpec, { kind: 'poll' }>): Running {
    const t = setInterval(() => this.hooks.change(this.def.command, 'poll'), s.intervalMs);
    return { stop: () => clearInterval(t) };
  }

  /**
   * fs.watch on the folder (a file replaced by rename, as keepalived notify scripts and
   * logrotate do, is a new inode: a watch on the file itself would go deaf), plus a stat poll
   * in case fs.watch misses something (NFS, overlay file systems). A change is a different
   * inode, size, mtime or ctime, or the file appearing or going away.
   */
  private startFile(s: Extract<WatchSpec, { kind: 'file' | 'tail' }>, died: (reason: string) => void): Running {
    const name = basename(s.path);
    let sig: string | undefined;
    let ino = -1;
    let offset = -1;
    let checking = false;
    let again = false;
    let closed = false;
    const lines = new LineSplitter((line) => {
      if (this.lineMatters(line)) this.hooks.change(this.def.command, 'log line');
    });
    const readTail = async (st: { ino: number; size: number }): Promise<void> => {
      if (offset === -1 || st.ino !== ino || st.size < offset) {
        // First look: start at the end (history is not news). A new inode or a truncated
        // file (rotation): read it from its beginning.
        const first = offset === -1;
        ino = st.ino;
        offset = first ? st.size : 0;
        if (first) return;
      }
      if (st.size <= offset) return;
      if (st.size - offset > MAX_TAIL_READ) offset = st.size - MAX_TAIL_READ;
      const fh = await open(s.path, 'r');
      try {
        const fst = await fh.stat();
        if (!fst.isFile() || fst.ino !== ino) return;
        const buf = Buffer.alloc(64 * 1024);
        while (offset < st.size && !closed) {
          const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, st.size - offset), offset);
          if (bytesRead === 0) break;
          offset += bytesRead;
          lines.push(buf.subarray(0, bytesRead));
        }
      } finally {
        await fh.close();
      }
    };
    const check = async (): Promise<void> => {
      if (checking) {
        again = true;
        return;
      }
      checking = true;
      try {
        do {
          again = false;
          const st = await stat(s.path).catch(() => undefined);
          if (closed) return;
          if (s.kind === 'tail') {
            if (st?.isFile()) await readTail(st);
            continue;
          }
          const now = st ? `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}` : 'missing';
          if (sig !== undefined && now !== sig) this.hooks.change(this.def.command, 'file changed');
          sig = now;
        } while (again && !closed);
      } catch (e) {
        if (!closed) {
          closed = true;
          died(`reading ${s.path} failed: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
      } finally {
        checking = false;
      }
    };
    let fsw: FSWatcher | undefined;
    fsw = watch(dirname(s.path), { persistent: false }, (_event, file) => {
      if (file === null || file === name) void check();
    });
    fsw.on('error', (e) => {
      closed = true;
      died(`watching ${dirname(s.path)} failed: ${e.message}`);
    });
    void check();
    const poll = setInterval(() => void check(), this.hooks.statPollMs ?? 1000);
    return {
      stop: () => {
        closed = true;
        clearInterval(poll);
        fsw?.close();
        fsw = undefined;
      },
    };
  }
}

/** All watchers of one configuration generation. */
export class WatchSet {
  private readonly watchers: Watcher[];
  constructor(defs: readonly WatchDef[], hooks: WatchHooks) {
    this.watchers = defs.map((d) => new Watcher(d, hooks));
  }
  start(): void {
    for (const w of this.watchers) w.start();
  }
  stop(): void {
    for (const w of this.watchers) w.stop();
  }
}

/**
 * Re-runs a command on demand: at once on the first change, at most one run in flight, and
 * every change that arrives during a run (or within `minGapMs` of its start) folded into one
 * more run afterwards. A burst of a thousand lines is two or three runs.
 */
export class Coalescer {
  private running = false;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private lastStart = 0;
  private closed = false;
  runs = 0;
  private readonly run: () => Promise<void>;
  private readonly minGapMs: number;
  constructor(run: () => Promise<void>, minGapMs: number) {
    this.run = run;
    this.minGapMs = minGapMs;
  }
  fire(): void {
    if (this.closed) return;
    if (this.running || this.timer) {
      this.dirty = true;
      return;
    }
    const wait = Math.max(0, this.lastStart + this.minGapMs - Date.now());
    if (wait === 0) void this.go();
    else this.timer = setTimeout(() => void this.go(), wait);
  }
  private async go(): Promise<void> {
    this.timer = undefined;
    if (this.closed) return;
    this.running = true;
    this.dirty = false;
    this.lastStart = Date.now();
    this.runs++;
    try {
      await this.run();
    } finally {
      this.running = false;
      if (this.dirty) {
        this.dirty = false;
        this.fire();
      }
    }
  }
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }
}
