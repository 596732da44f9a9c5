/**
 * The only impure part of check_ha_galera: reads `SHOW GLOBAL STATUS LIKE 'wsrep_%'` and a
 * few wsrep variables from each node at once. Failures are recorded per node, never thrown.
 */
import type { PluginContext } from '../../nagios/plugin.ts';
import { classifyError, openSession, type Credentials, type Row } from '../mysql/connection.ts';
import type { Target } from '../mysql/target.ts';
import { CAPTURE_FORMAT, type GaleraCapture, type RawNode } from './parse.ts';

function flatten(rows: readonly Row[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of rows) {
    const name = r.Variable_name;
    if (typeof name === 'string') out[name.toLowerCase()] = r.Value === null || r.Value === undefined ? '' : String(r.Value);
  }
  return out;
}

async function readNode(ctx: PluginContext, target: Target, creds: Credentials): Promise<RawNode> {
  const base = { target: target.label, address: target.socketPath ?? `${target.host}:${target.port}` };
  try {
    const db = await openSession(target, creds, ctx.remainingMs(), ctx.signal);
    try {
      const status = flatten(await db.query("SHOW GLOBAL STATUS LIKE 'wsrep%'", ctx.remainingMs()));
      const variables = flatten(await db.query("SHOW GLOBAL VARIABLES WHERE Variable_name IN ('wsrep_on', 'wsrep_cluster_name', 'wsrep_node_name', 'wsrep_provider', 'version')", ctx.remainingMs()));
      return { ...base, variables, status };
    } finally {
      db.close();
    }
  } catch (e) {
    const err = classifyError(e);
    return { ...base, error: { kind: err.kind, message: err.message, ...(err.code ? { code: err.code } : {}) } };
  }
}

export async function collect(ctx: PluginContext, targets: readonly Target[], creds: Credentials): Promise<GaleraCapture> {
  return { format: CAPTURE_FORMAT, nodes: await Promise.all(targets.map((t) => readNode(ctx, t, creds))) };
}
