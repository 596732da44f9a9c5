/**
 * The impure part of check_ha_iptables: iptables-save, ip6tables-save and
 * `nft -j list ruleset` (directly as root, or through `sudo -n`), the policy file and
 * the baseline file.
 */
import { mkdir } from 'node:fs/promises';
import { InputError, readBoundedFile } from '../../nagios/input.ts';
import { dirname } from 'node:path';
import { CommandError } from '../../nagios/exec.ts';
import { PluginError, type PluginContext } from '../../nagios/plugin.ts';
import { readTextFile, replaceFile } from '../lib/files.ts';
import { describeFailure, runPrivileged } from '../lib/privileged.ts';

/**
 * `""`: the save tools only without arguments. Allowed any arguments, `iptables-save -f FILE`
 * would let the nagios user overwrite any file as root.
 */
export const SUDOERS_RULE = 'nagios ALL=(root) NOPASSWD: /usr/sbin/iptables-save "", /usr/sbin/ip6tables-save "", /usr/sbin/nft -j list ruleset';

export interface RawRulesets {
  /** iptables-save text (IPv4); undefined when not read. */
  readonly v4?: string | undefined;
  readonly v6?: string | undefined;
  /** `nft -j list ruleset` JSON text. */
  readonly nft?: string | undefined;
  readonly sources: string[];
  readonly notes: string[];
}

/** Runs one dump command; a missing program is a note (the other tool may do), anything else fails. */
async function dump(ctx: PluginContext, file: string, args: string[], pkg: string, sudo: boolean): Promise<string | undefined> {
  try {
    const res = await runPrivileged(ctx, { file, args, debianPackage: pkg, sudoersRule: SUDOERS_RULE, sudo, timeoutMs: 8000 });
    if (res.exitCode !== 0) throw new PluginError(describeFailure(`${file} ${args.join(' ')}`.trim(), res));
    return res.stdout;
  } catch (e) {
    if (e instanceof PluginError && / was not found\b.*: install the Debian package /.test(e.message) && !e.message.startsWith("'sudo'")) return undefined;
    if (e instanceof CommandError) throw new PluginError(e.message);
    throw e;
  }
}

export async function collectRulesets(ctx: PluginContext, want: { v6: boolean; source: 'auto' | 'iptables' | 'nft' }): Promise<RawRulesets> {
  const files = { v4: ctx.string('iptables-file'), v6: ctx.string('ip6tables-file'), nft: ctx.string('nft-file') };
  const input = await ctx.readInput();
  const sources: string[] = [];
  const notes: string[] = [];
  if (input !== undefined || files.v4 || files.v6 || files.nft) {
    let v4 = files.v4 ? await readTextFile(files.v4, 'iptables-save file', { signal: ctx.signal }) : undefined;
    const v6 = files.v6 ? await readTextFile(files.v6, 'ip6tables-save file', { signal: ctx.signal }) : undefined;
    let nft = files.nft ? await readTextFile(files.nft, 'nft JSON file', { signal: ctx.signal }) : undefined;
    if (input !== undefined) {
      if (input.trimStart().startsWith('{')) nft = input;
      else v4 = input;
    }
    if (v4 !== undefined) sources.push('iptables-save (file)');
    if (v6 !== undefined) sources.push('ip6tables-save (file)');
    if (nft !== undefined) sources.push('nft (file)');
    return { v4, v6, nft, sources, notes };
  }
  const sudo = ctx.flag('sudo');
  const ipt = ctx.string('iptables-save') ?? 'iptables-save';
  const ip6t = ctx.string('ip6tables-save') ?? 'ip6tables-save';
  const nftBin = ctx.string('nft') ?? 'nft';
  let v4: string | undefined;
  let v6: string | undefined;
  let nft: string | undefined;
  if (want.source !== 'nft') {
    v4 = await dump(ctx, ipt, [], 'iptables', sudo);
    if (v4 !== undefined) sources.push('iptables-save');
    if (want.v6) {
      v6 = await dump(ctx, ip6t, [], 'iptables', sudo);
      if (v6 !== undefined) sources.push('ip6tables-save');
    }
  }
  if (want.source !== 'iptables') {
    nft = await dump(ctx, nftBin, ['-j', 'list', 'ruleset'], 'nftables', sudo);
    if (nft !== undefined) sources.push('nft');
  }
  if (v4 === undefined && nft === undefined) {
    const which = want.source === 'nft' ? "'nft' was not found: install the Debian package nftables" : want.source === 'iptables' ? "'iptables-save' was not found: install the Debian package iptables" : 'neither iptables-save nor nft was found: install the Debian package iptables or nftables';
    throw new PluginError(which);
  }
  if (want.source === 'auto' && nft === undefined) notes.push('nft was not found (Debian package nftables): only iptables rules were read');
  return { v4, v6, nft, sources, notes };
}

export async function readPolicyFile(path: string): Promise<string> {
  return readTextFile(path, 'policy file');
}

export async function readBaseline(path: string): Promise<string> {
  try {
    return (await readBoundedFile(path)).text;
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    if (e.kind === 'not-found') throw new PluginError(`baseline '${path}' does not exist: record it first with --baseline ${path} --record`);
    throw new PluginError(`cannot read baseline '${path}': ${e.reason}`);
  }
}

export async function writeBaseline(path: string, text: string): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true });
    await replaceFile(path, text, 0o640);
  } catch (e) {
    throw new PluginError(`cannot write baseline '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
