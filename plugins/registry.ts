/**
 * Every built-in check, listed explicitly. The agent runs these in-process; the build
 * makes one standalone executable per folder (scripts/build.mjs). Plugins themselves never
 * import this file, so a standalone check loads only its own code.
 */
import type { PluginDescriptor } from '../nagios/plugin.ts';
import corosync from './corosync/index.ts';
import crm from './crm/index.ts';
import disk from './disk/index.ts';
import drbd from './drbd/index.ts';
import galera from './galera/index.ts';
import gluster from './gluster/index.ts';
import haproxy from './haproxy/index.ts';
import heartbeat from './heartbeat/index.ts';
import iptables from './iptables/index.ts';
import keepalived from './keepalived/index.ts';
import load from './load/index.ts';
import lvs from './lvs/index.ts';
import memory from './memory/index.ts';
import mysql from './mysql/index.ts';
import nfs from './nfs/index.ts';
import nginx from './nginx/index.ts';
import pgsql from './pgsql/index.ts';
import procs from './procs/index.ts';
import swap from './swap/index.ts';
import users from './users/index.ts';
import vip from './vip/index.ts';

export const plugins: readonly PluginDescriptor[] = [
  corosync,
  crm,
  disk,
  drbd,
  galera,
  gluster,
  haproxy,
  heartbeat,
  iptables,
  keepalived,
  load,
  lvs,
  memory,
  mysql,
  nfs,
  nginx,
  pgsql,
  procs,
  swap,
  users,
  vip,
];

export function findPlugin(name: string): PluginDescriptor | undefined {
  return plugins.find((p) => p.name === name);
}
