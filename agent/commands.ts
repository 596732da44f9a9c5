/**
 * The command table: each `command[name]=line` becomes a plan, decided once when the
 * config is loaded (pure):
 *   - `inproc`: the line calls one of our check_ha_* plugins (any path ending in
 *     check_ha_<name>, with or without .cjs, optionally after `node`): it runs inside the
 *     agent through runPlugin, with the same output and exit code as the executable;
 *   - `exec`: a plain command line: spawned without a shell;
 *   - `shell`: the line uses shell syntax (pipes, redirects, variables...): /bin/sh -c, as
 *     NRPE runs every command.
 * `$ARGn$` macros are substituted per word after splitting for inproc/exec, so arguments
 * cannot add words; for shell lines they are substituted into the line, as NRPE does (the
 * arguments were checked against nasty_metachars first).
 */
import { existsSync } from 'node:fs';
import { pluginOptions, type PluginDescriptor, type PluginOption } from '../nagios/plugin.ts';
import { expandMacros, splitCommandLine } from './shellwords.ts';

export type CommandPlan =
  | { readonly kind: 'inproc'; readonly name: string; readonly line: string; readonly plugin: PluginDescriptor; readonly argTemplates: readonly string[] }
  | { readonly kind: 'exec'; readonly name: string; readonly line: string; readonly file: string; readonly argTemplates: readonly string[]; readonly wraps?: PluginDescriptor | undefined }
  | { readonly kind: 'shell'; readonly name: string; readonly line: string; readonly reason: string; readonly wraps?: PluginDescriptor | undefined };

const PLUGIN_FILE = /(?:^|\/)(check_ha_[A-Za-z0-9_-]+?)(?:\.cjs)?$/;

/**
 * The stock nrpe.cfg commands hawatch has built in: a line calling monitoring-plugins'
 * check_users, check_load, check_disk, check_procs or check_swap (any directory) runs the
 * check_ha_ twin in-process, with the same options, when `hawatch_builtin_basics` says so:
 * `auto` (default) when the program named is missing (a node without monitoring-plugins),
 * `1` always (no fork per check), `0` never.
 */
const BASICS = /(?:^|\/)check_(users|load|disk|procs|swap)$/;

export interface PlanOptions {
  readonly commandPrefix?: string | undefined;
  readonly builtinBasics?: 'auto' | 'always' | 'never' | undefined;
  /** Whether the program exists (injected by tests). */
  readonly exists?: ((path: string) => boolean) | undefined;
}

export function planCommand(name: string, line: string, plugins: readonly PluginDescriptor[], commandPrefix?: string, opts: PlanOptions = {}): CommandPlan {
  const full = commandPrefix ? `${commandPrefix} ${line}` : line;
  const split = splitCommandLine(full);
  if (split.kind === 'shell') return { kind: 'shell', name, line: full, reason: split.reason, wraps: wrappedPlugin(shellWords(full), plugins)?.plugin };
  const words = split.words;
  // The basics need no privileges, so a command_prefix (sudo, nice) is not needed by the built-in.
  const own = commandPrefix ? splitCommandLine(line) : split;
  const basic = own.kind === 'words' ? BASICS.exec(own.words[0] ?? '') : null;
  const mode = opts.builtinBasics ?? 'auto';
  if (basic && own.kind === 'words' && mode !== 'never' && (mode === 'always' || !(opts.exists ?? existsSync)(own.words[0]!))) {
    const plugin = plugins.find((p) => p.name === `check_ha_${basic[1]}`);
    if (plugin) return { kind: 'inproc', name, line: full, plugin, argTemplates: own.words.slice(1) };
  }
  let at = 0;
  if (words.length > 1 && /(?:^|\/)(node|nodejs)$/.test(words[0]!)) at = 1;
  const m = PLUGIN_FILE.exec(words[at]!);
  if (m && !words[at]!.includes('$')) {
    const plugin = plugins.find((p) => p.name === m[1]);
    if (plugin) return { kind: 'inproc', name, line: full, plugin, argTemplates: words.slice(at + 1) };
  }
  return { kind: 'exec', name, line: full, file: words[0]!, argTemplates: words.slice(1), wraps: wrappedPlugin(words, plugins)?.plugin };
}

/**
 * One of our checks run as a child (after a command_prefix such as sudo, through env, or
 * in a shell line): its restricted options must stay out of reach of the arguments as
 * in-process (the plugin word and where its arguments start).
 */
function wrappedPlugin(words: readonly string[], plugins: readonly PluginDescriptor[]): { plugin: PluginDescriptor; index: number } | undefined {
  for (const [index, w] of words.entries()) {
    const m = PLUGIN_FILE.exec(w);
    if (!m || w.includes('$')) continue;
    const plugin = plugins.find((p) => p.name === m[1]);
    if (plugin) return { plugin, index };
  }
  return undefined;
}

/** A shell line split the way refuseShell judges it: at white space, with the quotes the shell removes left out. */
const unquote = (w: string): string => w.replace(/["'\\]/g, '');
function shellWords(line: string): string[] {
  return line.split(/[ \t]+/).filter((w) => w !== '').map(unquote);
}

export function planCommands(commands: ReadonlyMap<string, string>, plugins: readonly PluginDescriptor[], commandPrefix?: string, opts: PlanOptions = {}): Map<string, CommandPlan> {
  const out = new Map<string, CommandPlan>();
  for (const [name, line] of commands) out.set(name, planCommand(name, line, plugins, commandPrefix, opts));
  return out;
}

/** argv for an inproc or exec plan with the request's arguments substituted per word. */
export function substituteArgs(templates: readonly string[], args: readonly string[]): string[] {
  return templates.map((t) => expandMacros(t, args));
}

/** A word of a command's argv and how much of it the network chose. */
interface ArgWord {
  readonly value: string;
  /** An argument (`$ARGn$`) changed this word. */
  readonly tainted: boolean;
  /** The word up to its first `$ARGn$`, as the template wrote it (`$$` read as `$`). */
  readonly fixed: string;
  /** n of that first `$ARGn$` (for messages: "argument 2"). */
  readonly arg: number;
}

const ARG_MACRO = /^ARG\d+$/;

/** Index of the first `$ARGn$` in a template word (the way expandMacros reads `$...$` pairs), or -1. */
function firstArgMacro(t: string): number {
  let i = 0;
  for (;;) {
    const start = t.indexOf('$', i);
    if (start === -1) return -1;
    const end = t.indexOf('$', start + 1);
    if (end === -1) return -1;
    if (ARG_MACRO.test(t.slice(start + 1, end))) return start;
    i = end + 1;
  }
}

function argWords(templates: readonly string[], args: readonly string[]): ArgWord[] {
  return templates.map((t) => {
    const value = expandMacros(t, args);
    const at = firstArgMacro(t);
    const fixed = at === -1 ? value : expandMacros(t.slice(0, at), []);
    const arg = at === -1 ? 0 : Number(/^\$ARG(\d+)\$/.exec(t.slice(at))?.[1] ?? 0);
    // An empty argument changes nothing: the word is what the configuration says.
    return { value, tainted: at !== -1 && value !== expandMacros(t, []), fixed, arg };
  });
}

/** The option name and `=` (long) or the option letter (short) came from the configuration, not from an argument. */
function optionFixedByTemplate(w: ArgWord): boolean {
  if (w.fixed.startsWith('--')) return w.fixed.includes('=');
  return w.fixed.length >= 2 && w.fixed.startsWith('-');
}

/** Why a dashed argument is refused; `w.arg` names which one. */
function addsOption(w: ArgWord): string {
  return `argument ${w.arg} may not start with a dash: the configured command line does not put it right after an option`;
}

/**
 * Why the request's arguments must not run this command, or undefined. Arguments can never
 * add options: an `$ARGn$` value starting with `-` is refused unless the configured command
 * line puts it right after an option that takes a value (`-w $ARG1$` takes `-5:`), or the
 * option is written in the same word (`--warning=$ARG1$`). Options of hawatch's checks that
 * name a file or a program (`restricted`) cannot be set, nor given a value, by an argument.
 */
export function refuseArguments(plan: CommandPlan, args: readonly string[]): string | undefined {
  if (args.every((a) => a === '')) return undefined;
  if (plan.kind === 'inproc') return refuseInproc(plan.plugin, argWords(plan.argTemplates, args));
  if (plan.kind === 'exec') {
    const words = [plan.file, ...plan.argTemplates];
    return refuseWrapped(plan.wraps, words, args) ?? refuseExec(argWords(words, args), 1);
  }
  return refuseWrapped(plan.wraps, shellWords(plan.line), args.map(unquote)) ?? refuseShell(plan.line, args);
}

function refuseWrapped(plugin: PluginDescriptor | undefined, words: readonly string[], args: readonly string[]): string | undefined {
  if (!plugin) return undefined;
  const at = words.findIndex((w) => PLUGIN_FILE.exec(w)?.[1] === plugin.name && !w.includes('$'));
  return at === -1 ? undefined : refuseInproc(plugin, argWords(words.slice(at + 1), args));
}

function restrictedWhy(name: string, kind: 'file' | 'program'): string {
  return `option --${name} names a ${kind} and cannot be set through arguments (write it in the command line of the agent configuration)`;
}

function refuseInproc(plugin: PluginDescriptor, words: readonly ArgWord[]): string | undefined {
  const long = new Map<string, PluginOption>();
  const short = new Map<string, PluginOption>();
  for (const o of pluginOptions(plugin)) {
    long.set(o.name, o);
    if (o.short) short.set(o.short, o);
  }
  // What node:util parseArgs (the plugins' parser: no abbreviations) will read each word as.
  let valueOf: PluginOption | undefined;
  for (const w of words) {
    if (valueOf) {
      if (valueOf.restricted && w.tainted) return restrictedWhy(valueOf.name, valueOf.restricted);
      valueOf = undefined;
      continue;
    }
    if (!w.value.startsWith('-') || w.value === '-') continue;
    if (w.value === '--') {
      // Everything after `--` is a positional, which the checks refuse.
      if (w.tainted) return addsOption(w);
      break;
    }
    if (w.tainted && !optionFixedByTemplate(w)) return addsOption(w);
    if (w.value.startsWith('--')) {
      const eq = w.value.indexOf('=');
      const o = long.get(eq === -1 ? w.value.slice(2) : w.value.slice(2, eq));
      if (!o) continue;
      if (o.restricted && w.tainted) return restrictedWhy(o.name, o.restricted);
      if (eq === -1 && o.type === 'string') valueOf = o;
      continue;
    }
    // A short option group: -v, -vvv, -w5, -vw 5 (parseArgs' reading).
    for (let i = 1; i < w.value.length; i++) {
      const o = short.get(w.value[i]!);
      if (!o) break;
      // The letters themselves must come from the configuration.
      if (w.tainted && i >= w.fixed.length) return addsOption(w);
      if (o.type === 'string') {
        if (o.restricted && w.tainted) return restrictedWhy(o.name, o.restricted);
        if (i === w.value.length - 1) valueOf = o;
        break;
      }
    }
  }
  return undefined;
}

/**
 * External programs: their options are unknown, so a dashed argument is taken only right
 * after an option the configuration wrote (`-w $ARG1$`) or inside an option word it wrote
 * (`--warning=$ARG1$`).
 */
function refuseExec(words: readonly ArgWord[], firstArg: number): string | undefined {
  for (const [k, w] of words.entries()) {
    if (!w.tainted || !w.value.startsWith('-')) continue;
    if (optionFixedByTemplate(w)) continue;
    const prev = words[k - 1];
    const afterOption = k >= firstArg && w.fixed === '' && prev !== undefined && !prev.tainted && prev.value.startsWith('-') && prev.value !== '-' && prev.value !== '--';
    if (!afterOption) return addsOption(w);
  }
  return undefined;
}

/**
 * Shell lines get the arguments pasted in (as NRPE does), so the shell reads them again: an
 * argument with white space, `$` (`a$IFS-n` splits into two words) or a glob (`*`, `?`)
 * would add words and is refused; dashes follow the rule of external programs, judged on
 * the line split at white space with the quotes the shell removes left out (`"$ARG1$"`
 * with `-n` is still `-n`).
 */
function refuseShell(line: string, args: readonly string[]): string | undefined {
  const used = new Set<number>();
  for (const m of line.matchAll(/\$ARG(\d+)\$/g)) used.add(Number(m[1]));
  for (const n of [...used].sort((a, b) => a - b)) {
    const a = args[n - 1] ?? '';
    if (/\s/.test(a)) return `argument ${n} contains white space, which would add words to a shell command line`;
    if (/[$*?]/.test(a)) return `argument ${n} contains a dollar sign or a glob, which the shell would expand into more words`;
  }
  return refuseExec(argWords(shellWords(line), args.map(unquote)), 1);
}
