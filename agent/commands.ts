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
import type { PluginDescriptor } from '../nagios/plugin.ts';
import { expandMacros, splitCommandLine } from './shellwords.ts';

export type CommandPlan =
  | { readonly kind: 'inproc'; readonly name: string; readonly line: string; readonly plugin: PluginDescriptor; readonly argTemplates: readonly string[] }
  | { readonly kind: 'exec'; readonly name: string; readonly line: string; readonly file: string; readonly argTemplates: readonly string[] }
  | { readonly kind: 'shell'; readonly name: string; readonly line: string; readonly reason: string };

const PLUGIN_FILE = /(?:^|\/)(check_ha_[A-Za-z0-9_-]+?)(?:\.cjs)?$/;

export function planCommand(name: string, line: string, plugins: readonly PluginDescriptor[], commandPrefix?: string): CommandPlan {
  const full = commandPrefix ? `${commandPrefix} ${line}` : line;
  const split = splitCommandLine(full);
  if (split.kind === 'shell') return { kind: 'shell', name, line: full, reason: split.reason };
  const words = split.words;
  let at = 0;
  if (words.length > 1 && /(?:^|\/)(node|nodejs)$/.test(words[0]!)) at = 1;
  const m = PLUGIN_FILE.exec(words[at]!);
  if (m && !words[at]!.includes('$')) {
    const plugin = plugins.find((p) => p.name === m[1]);
    if (plugin) return { kind: 'inproc', name, line: full, plugin, argTemplates: words.slice(at + 1) };
  }
  return { kind: 'exec', name, line: full, file: words[0]!, argTemplates: words.slice(1) };
}

export function planCommands(commands: ReadonlyMap<string, string>, plugins: readonly PluginDescriptor[], commandPrefix?: string): Map<string, CommandPlan> {
  const out = new Map<string, CommandPlan>();
  for (const [name, line] of commands) out.set(name, planCommand(name, line, plugins, commandPrefix));
  return out;
}

/** argv for an inproc or exec plan with the request's arguments substituted per word. */
export function substituteArgs(templates: readonly string[], args: readonly string[]): string[] {
  return templates.map((t) => expandMacros(t, args));
}
