/**
 * What the exports (Nagios, Icinga 2, agent) share: each check as the concrete thing the
 * scheduler would run (macros expanded exactly as server/scheduler/request.ts does), so
 * an exported configuration checks what hawatch checks, word for word.
 */
import { basename } from 'node:path';
import { plugins } from '../../plugins/registry.ts';
import type { CheckCommand } from '../executors/types.ts';
import type { CommandSpec, HostConfig, Inventory } from '../inventory/types.ts';
import { buildRequest } from '../scheduler/request.ts';

export interface ExportSettings {
  /** How Nagios/Icinga get the cluster rules: ask the hawatch server (query) or wait for passive results. */
  readonly rules: 'query' | 'passive';
  /** Base URL of the hawatch server's API, for `hawatch-server query`. */
  readonly serverUrl: string;
  /** The hawatch-server program on the monitoring host ($HAWATCH_SERVER$ in commands). */
  readonly serverCommand: string;
  /** The program the monitoring host runs for the cluster rules: hawatch-query, or hawatch-server (both take `query --url --key`). */
  readonly queryCommand: string;
  /** Where check_nrpe, check_by_ssh and check_dummy live on the monitoring host. */
  readonly pluginDir: string;
}

export const DEFAULT_PLUGIN_DIR = '/usr/lib/nagios/plugins';

/** The macros the server gives commands at run time, as an installed server would. */
export function exportMacros(serverCommand: string): Record<string, string> {
  return { NODE: '/usr/bin/node', HAWATCH_SERVER: serverCommand, HAWATCH_BIN: serverCommand.includes('/') ? serverCommand.slice(0, serverCommand.lastIndexOf('/')) : '/usr/bin' };
}

/** The command of one check, macros expanded, in the form its transport sends it. */
export function concreteCommand(inv: Inventory, host: HostConfig, serviceName: string | null, spec: CommandSpec, macros: Readonly<Record<string, string>>): CheckCommand {
  return buildRequest(inv, host, serviceName, spec, 1000, macros).command;
}

/** POSIX shell quoting: safe words stay bare, the others go in single quotes. */
export function shellQuote(word: string): string {
  if (word !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** Minutes for Nagios (interval_length 60), at most 4 decimals. */
export function minutes(ms: number): number {
  return Math.round((ms / 60_000) * 10_000) / 10_000;
}

/**
 * The agent command line for an NRPE command name: hawatch's own checks by their name
 * (check_ha_crm) or their short name (check_crm), and a second use of one of them with other
 * options on one host under check_ha_<name>_<suffix> (check_ha_procs_php). The suffix form
 * needs the ha_ prefix: check_disk_smb and check_mysql_query are monitoring-plugins
 * programs, not ours. Any other check_* comes from the plugin folder.
 */
export function agentProgramFor(name: string, pluginDir: string): { program: string; builtin: boolean } {
  const ours = new Set(plugins.map((p) => p.name.slice('check_ha_'.length)));
  const short = /^check_(?:ha_)?([a-z0-9]+)$/.exec(name)?.[1];
  if (short !== undefined && ours.has(short)) return { program: `${pluginDir}/check_ha_${short}`, builtin: true };
  const suffixed = /^check_ha_([a-z0-9]+)_[a-z0-9_]+$/.exec(name)?.[1];
  if (suffixed !== undefined && ours.has(suffixed)) return { program: `${pluginDir}/check_ha_${suffixed}`, builtin: true };
  return { program: `${pluginDir}/${basename(name)}`, builtin: false };
}

/**
 * Passive objects (results only from outside: the API, NRDP) are never checked by hawatch;
 * read through a cast so this also builds against inventories that predate the flag.
 */
export function isPassive(o: object): boolean {
  return (o as { passive?: boolean }).passive === true;
}
