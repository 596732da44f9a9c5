/**
 * `server.ha` (issue 14): several hawatch-server instances on one PostgreSQL. Read here
 * (called from inventory/load.ts), with the monitoring of the instances added to the
 * inventory as ordinary objects: the virtual host `hawatch` and its passive service
 * `instances` (judged by the owner of its shard, notified through the outbox like any
 * other problem, so exactly once).
 */
import type { Path } from '../inventory/load.ts';

export interface HaSettings {
  readonly shards: number;
  readonly leaseMs: number;
  /** Unique per running instance; default host name plus a random part (a restart is a new instance). */
  readonly instanceId: string | null;
  /** Who hears about instances (the inventory's admins); default every contact. */
  readonly contacts: readonly string[] | null;
  /** An outside dead-man switch pinged by every live instance. */
  readonly deadman: { readonly url: string; readonly everyMs: number; readonly method: 'GET' | 'POST' } | null;
}

export const HA_HOST = 'hawatch';
export const HA_SERVICE = 'instances';
export const HA_KEY = `${HA_HOST}/${HA_SERVICE}`;

interface Sec {
  readonly path: Path;
  keys(allowed: readonly string[]): void;
  has(k: string): boolean;
  raw(k: string): unknown;
  sub(k: string): Sec | null;
  str(k: string): string | null;
  int(k: string, def: number, min: number, max: number): number;
  duration(k: string, def: number, minMs?: number): number;
  strList(k: string): string[];
}

export function readHa(fail: (path: Path, message: string) => void, srv: Sec, database: string): HaSettings | null {
  if (!srv.has('ha') || srv.raw('ha') === null || srv.raw('ha') === false) return null;
  const ha = srv.sub('ha');
  if (!ha) return null;
  if (!/^postgres(ql)?:\/\//i.test(database)) {
    fail(['server', 'ha'], 'needs server.database to be a postgres:// URL: the instances share one PostgreSQL (SQLite serves one instance)');
  }
  ha.keys(['shards', 'lease', 'instance_id', 'contacts', 'deadman']);
  const shards = ha.int('shards', 64, 1, 4096);
  const leaseMs = ha.duration('lease', 10_000, 1000);
  const instanceId = ha.str('instance_id');
  if (instanceId !== null && !/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/.test(instanceId)) fail(['server', 'ha', 'instance_id'], 'is letters, digits and _ . : - (at most 100)');
  const contacts = ha.has('contacts') ? ha.strList('contacts') : null;
  let deadman: HaSettings['deadman'] = null;
  const dm = ha.sub('deadman');
  if (dm) {
    dm.keys(['url', 'every', 'method']);
    const url = dm.str('url');
    if (url === null || !/^https?:\/\/\S+$/.test(url)) fail(['server', 'ha', 'deadman', 'url'], 'must be an http:// or https:// URL of the outside service to ping');
    const method = (dm.str('method') ?? 'GET').toUpperCase();
    if (method !== 'GET' && method !== 'POST') fail(['server', 'ha', 'deadman', 'method'], 'is GET or POST');
    deadman = { url: url ?? '', everyMs: dm.duration('every', 60_000, 1000), method: method === 'POST' ? 'POST' : 'GET' };
  }
  return { shards, leaseMs, instanceId, contacts, deadman };
}

/**
 * Adds the host `hawatch` and its service `instances` to the raw inventory when server.ha is
 * set (before it is read, so they are checked like written objects). Refused when the
 * inventory has its own host of that name.
 */
export function injectHaObjects(raw: unknown, fail: (path: Path, message: string) => void): void {
  if (!raw || typeof raw !== 'object') return;
  const top = raw as Record<string, unknown>;
  const server = top.server as Record<string, unknown> | undefined;
  const ha = server?.ha;
  if (!ha || typeof ha !== 'object') return;
  const hosts = (top.hosts && typeof top.hosts === 'object' ? top.hosts : {}) as Record<string, unknown>;
  if (HA_HOST in hosts) {
    fail(['hosts', HA_HOST], `the host name ${HA_HOST} is taken by server.ha (the monitoring of the instances): rename this host`);
    return;
  }
  const listed = (ha as Record<string, unknown>).contacts;
  const contacts = Array.isArray(listed) ? listed : Object.keys((top.contacts as Record<string, unknown> | undefined) ?? {});
  top.hosts = { ...hosts, [HA_HOST]: { address: '127.0.0.1', check: 'none', ...(contacts.length ? { contacts } : {}) } };
  const services = Array.isArray(top.services) ? top.services : [];
  top.services = [...services, { name: HA_SERVICE, host: HA_HOST, passive: true, freshness: false, max_check_attempts: 1, ...(contacts.length ? { contacts } : {}) }];
}
