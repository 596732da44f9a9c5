/**
 * Every built-in check, listed explicitly. The agent runs these in-process; the build
 * makes one standalone executable per folder (scripts/build.mjs). Plugins themselves never
 * import this file, so a standalone check loads only its own code.
 */
import type { PluginDescriptor } from '../nagios/plugin.ts';
import crm from './crm/index.ts';
import drbd from './drbd/index.ts';
import galera from './galera/index.ts';
import haproxy from './haproxy/index.ts';
import mysql from './mysql/index.ts';
import pgsql from './pgsql/index.ts';

export const plugins: readonly PluginDescriptor[] = [
  crm,
  drbd,
  galera,
  haproxy,
  mysql,
  pgsql,
];

export function findPlugin(name: string): PluginDescriptor | undefined {
  return plugins.find((p) => p.name === name);
}
