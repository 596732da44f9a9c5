/**
 * The impure part of check_ha_gluster: runs the gluster CLI (or answers from a transcript),
 * waits out the cluster-wide lock, and keeps the pending-heal count of each volume between runs.
 *
 * The CLI talks to the local glusterd through /run/glusterd.socket, which only root may
 * connect to: as the nagios user it runs through sudo (--sudo).
 */
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandError } from '../../nagios/exec.ts';
import { PluginError, type PluginContext } from '../../nagios/plugin.ts';
import { State } from '../../nagios/states.ts';
import { readTextFile, replaceFile, unsafeStateDir } from '../lib/files.ts';
import { sudoCommand } from '../lib/sudo.ts';
import {
  formatTranscript, lockMessage, parseCliOutput, parseHealCount, parseHealSummary, parsePeers, parseVolumeInfo, parseVolumeStatus,
  type HealBrick, type Peer, type Run, type StatusNode, type VolumeInfo,
} from './parse.ts';

export const DEFAULT_STATE_DIR = '/var/lib/hawatch';
/** Pause between two tries while another transaction holds the lock. */
export const LOCK_RETRY_MS = 1000;

export type Gluster = (args: readonly string[]) => Promise<Run>;

/** The lock was still held when the time ran out. */
export class LockHeldError extends PluginError {
  override name = 'LockHeldError';
}

export interface RunnerOptions {
  readonly program: string;
  readonly sudo: boolean;
  readonly record: Map<string, Run>;
}

/** Runs `gluster --mode=script ARGS`, trying again while the cluster lock is held, until -t nearly expires. */
export function commandRunner(ctx: PluginContext, opts: RunnerOptions): Gluster {
  const once = async (args: readonly string[]): Promise<Run> => {
    const full = ['--mode=script', ...args];
    const { file, args: argv } = opts.sudo ? sudoCommand(opts.program, full) : { file: opts.program, args: full };
    try {
      return await ctx.runCommand(file, argv, { timeoutMs: ctx.remainingMs(), signal: ctx.signal, env: { LC_ALL: 'C' } });
    } catch (e) {
      if (e instanceof CommandError && e.kind === 'not-found') {
        throw new PluginError(opts.sudo ? 'sudo was not found: install the Debian package sudo' : `${opts.program} was not found: install the Debian package glusterfs-server (or glusterfs-cli)`);
      }
      throw e instanceof CommandError ? new PluginError(e.message) : e;
    }
  };
  return async (args) => {
    const started = Date.now();
    let tries = 0;
    for (;;) {
      const r = await once(args);
      tries++;
      const lock = lockMessage(r);
      if (lock === undefined) {
        refusal(r, opts);
        opts.record.set(args.join(' '), r);
        return r;
      }
      // Another check, an admin or glusterd itself holds the cluster lock: wait for it, and
      // say so when it outlasts -t instead of reading the refusal as a broken volume.
      if (ctx.remainingMs() < LOCK_RETRY_MS + 1500) {
        opts.record.set(args.join(' '), r);
        throw new LockHeldError(`gluster ${args.join(' ')}: the cluster lock stayed taken for ${((Date.now() - started) / 1000).toFixed(1)} s, ${tries} tries (${lock}): another gluster command runs, run one check per volume at a time`);
      }
      await new Promise((res) => setTimeout(res, LOCK_RETRY_MS));
      if (ctx.signal.aborted) throw new PluginError('timed out waiting for the gluster cluster lock');
    }
  };
}

function refusal(r: Run, opts: RunnerOptions): void {
  if (r.exitCode === 0) return;
  const err = `${r.stderr}\n${r.stdout}`;
  if (opts.sudo && /a password is required|is not allowed to execute|not in the sudoers|sudo: a terminal is required/i.test(err)) {
    throw new PluginError(`sudo refused to run gluster: add the sudoers lines of the check_ha_gluster README (visudo -f /etc/sudoers.d/hawatch)`);
  }
  if (/Connection failed\. Please check if gluster daemon is operational/i.test(err)) {
    throw new PluginError('glusterd does not answer on this node (Connection failed): start glusterd', State.CRITICAL);
  }
  if (/permission denied|operation not permitted/i.test(err)) {
    throw new PluginError('gluster may not talk to glusterd (permission denied): run as root or pass --sudo with the sudoers lines of the README');
  }
}

/** Answers from a --input-file transcript; no retry (a recorded lock answer is read as it was). */
export function transcriptRunner(map: ReadonlyMap<string, Run>): Gluster {
  return async (args) => {
    const r = map.get(args.join(' ')) ?? { stdout: '', stderr: `not in the transcript: gluster ${args.join(' ')}`, exitCode: 2 };
    const lock = lockMessage(r);
    if (lock !== undefined) throw new LockHeldError(`gluster ${args.join(' ')}: the cluster lock was taken (${lock}): another gluster command runs, run one check per volume at a time`);
    return r;
  };
}

export interface HealFacts {
  /** info summary (split-brain counted) or heal-count (--cheap: pending only). */
  readonly source: 'summary' | 'heal-count';
  readonly bricks: readonly HealBrick[];
  /** Pending entries summed over the bricks, now and at the previous run. */
  readonly pending: number;
  readonly previous?: { pending: number; at: number } | undefined;
  readonly stateError?: string | undefined;
}

export interface VolumeFacts {
  readonly info: VolumeInfo;
  readonly status?: readonly StatusNode[] | undefined;
  readonly heal?: HealFacts | undefined;
  /** A command for this volume failed (the rest of the check goes on). */
  readonly error?: string | undefined;
}

export interface GlusterFacts {
  readonly peers: readonly Peer[];
  readonly volumes: readonly VolumeFacts[];
  /** Volumes asked for with --volume that do not exist. */
  readonly missing: readonly string[];
  readonly stateDir?: string | undefined;
}

export interface CollectOptions {
  readonly volumes: readonly string[];
  readonly cheap: boolean;
  /** Undefined: no trend (an --input-file run). */
  readonly stateDirs?: readonly StateDirChoice[] | undefined;
  readonly signal: AbortSignal;
  readonly now: number;
}

export function isReplicated(v: VolumeInfo): boolean {
  return v.replicaCount > 1 || v.disperseCount > 0;
}

export async function collect(g: Gluster, opts: CollectOptions): Promise<GlusterFacts> {
  const peers = parsePeers(parseCliOutput(await g(['peer', 'status', '--xml']), 'peer status --xml'));
  const all = parseVolumeInfo(parseCliOutput(await g(['volume', 'info', '--xml']), 'volume info --xml'));
  const wanted = opts.volumes.length ? all.filter((v) => opts.volumes.includes(v.name)) : all;
  const missing = opts.volumes.filter((n) => !all.some((v) => v.name === n));
  const volumes: VolumeFacts[] = [];
  let stateDir: string | undefined;
  for (const info of wanted) {
    if (info.status !== 'Started') {
      volumes.push({ info });
      continue;
    }
    try {
      const status = parseVolumeStatus(parseCliOutput(await g(['volume', 'status', info.name, '--xml']), `volume status ${info.name} --xml`), info.name);
      let heal: HealFacts | undefined;
      if (isReplicated(info)) {
        const bricks = opts.cheap
          ? parseHealCount(await g(['volume', 'heal', info.name, 'statistics', 'heal-count']), info.name)
          : parseHealSummary(parseCliOutput(await g(['volume', 'heal', info.name, 'info', 'summary', '--xml']), `volume heal ${info.name} info summary --xml`), info.name);
        const pending = bricks.reduce((s, b) => s + (b.pending ?? 0), 0);
        let previous: HealFacts['previous'];
        let stateError: string | undefined;
        if (opts.stateDirs) {
          const kept = await keepPending(opts.stateDirs, info.name, pending, opts.now, opts.signal);
          previous = kept.previous;
          stateError = kept.error;
          stateDir = kept.dir ?? stateDir;
        }
        heal = { source: opts.cheap ? 'heal-count' : 'summary', bricks, pending, previous, stateError };
      }
      volumes.push({ info, status, heal });
    } catch (e) {
      if (e instanceof LockHeldError || !(e instanceof PluginError)) throw e;
      volumes.push({ info, error: e.message });
    }
  }
  return { peers, volumes, missing, stateDir };
}

export function statePath(dir: string, volume: string): string {
  return join(dir, `gluster-heal-${createHash('sha256').update(volume).digest('hex').slice(0, 12)}.json`);
}

/** A state directory to try; private: in a shared place (TMPDIR), it must be ours alone (owner, mode 0700). */
export interface StateDirChoice {
  readonly dir: string;
  readonly private?: boolean | undefined;
}

/**
 * The state directories tried in order when --state-dir is not given: /var/lib/hawatch (the
 * package creates it for the nagios user), then $XDG_RUNTIME_DIR/hawatch, then TMPDIR/hawatch-UID.
 * The last is in a world-writable directory: someone could create it first and plant a fake
 * earlier pending count, so it is used only when it is this user's alone.
 */
export function defaultStateDirs(env: Readonly<Record<string, string | undefined>>): StateDirChoice[] {
  const dirs: StateDirChoice[] = [{ dir: DEFAULT_STATE_DIR }];
  if (env['XDG_RUNTIME_DIR']) dirs.push({ dir: join(env['XDG_RUNTIME_DIR'], 'hawatch') });
  dirs.push({ dir: join(tmpdir(), `hawatch-${process.getuid?.() ?? 'user'}`), private: true });
  return dirs;
}

/**
 * Reads the previous pending count of the volume and writes the current one, in the first
 * directory that takes it. A directory others could write to is refused (said in error): a
 * count read from there could be anyone's.
 */
export async function keepPending(dirs: readonly StateDirChoice[], volume: string, pending: number, now: number, signal: AbortSignal): Promise<{ previous?: { pending: number; at: number }; error?: string; dir?: string }> {
  let error: string | undefined;
  for (const { dir, private: own } of dirs) {
    const path = statePath(dir, volume);
    try {
      const unsafe = await unsafeStateDir(dir, { create: true, private: own === true });
      if (unsafe !== undefined) {
        error ??= unsafe;
        continue;
      }
    } catch (e) {
      error ??= `cannot keep the pending heal count in ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (give --state-dir)`;
      continue;
    }
    let previous: { pending: number; at: number } | undefined;
    try {
      const j = JSON.parse(await readTextFile(path, 'gluster heal state', { signal })) as { volume?: string; pending?: unknown; at?: unknown };
      if (j.volume === volume && typeof j.pending === 'number' && typeof j.at === 'number') previous = { pending: j.pending, at: j.at };
    } catch {
      /* first run, or an unreadable file: rewritten below */
    }
    try {
      await replaceFile(path, JSON.stringify({ volume, pending, at: now }), 0o644);
      return { previous, dir };
    } catch (e) {
      error ??= `cannot keep the pending heal count in ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (give --state-dir)`;
    }
  }
  return { error };
}

export async function saveTranscript(path: string, runs: ReadonlyMap<string, Run>): Promise<void> {
  try {
    await replaceFile(path, formatTranscript(runs), 0o644);
  } catch (e) {
    throw new PluginError(`cannot write --save-input ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, State.UNKNOWN);
  }
}
