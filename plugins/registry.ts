/**
 * Every built-in check, listed explicitly. The agent runs these in-process; the build
 * makes one standalone executable per folder (scripts/build.mjs). Plugins themselves never
 * import this file, so a standalone check loads only its own code.
 */
import type { PluginDescriptor } from '../nagios/plugin.ts';
import corosync from './corosync/index.ts';
import iptables from './iptables/index.ts';
import keepalived from './keepalived/index.ts';
import lvs from './lvs/index.ts';
import vip from './vip/index.ts';

export const plugins: readonly PluginDescriptor[] = [
  // one import per plugin, e.g. drbd (from './drbd/index.ts'), kept in name order
  corosync,
  iptables,
  keepalived,
  lvs,
  vip,
];

export function findPlugin(name: string): PluginDescriptor | undefined {
  return plugins.find((p) => p.name === name);
}
