/**
 * Parses the XML status written by `crm_mon` into typed observations. Pure.
 *
 * Two schemas are read, detected from the root element:
 * - `<pacemaker-result api-version=...>`: Pacemaker >= 2.0.3, `crm_mon --output-as=xml`.
 *   Errors are reported inside it, in `<status code=... message=...><errors>`.
 * - `<crm_mon version=...>`: Pacemaker 1.1.x and 2.0.0-2.0.2 `crm_mon --as-xml` (`-X`), and the
 *   legacy `--as-xml` of later versions. 1.1 differences handled here: roles Master/Slave,
 *   agents written `ocf::heartbeat:IPaddr2`, no `blocked` before 1.1.13-ish, no `exitreason`
 *   in failures before 1.1.13, groups without `managed`/`disabled`, no `<status>` element.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export const SCHEMA = {
  /** Pacemaker >= 2.0.3 formatted output. */
  MODERN: 'pacemaker-result',
  /** Pacemaker 1.1 / 2.0.0-2.0.2 `--as-xml`, and the legacy `--as-xml` of later versions. */
  LEGACY: 'crm_mon',
} as const;
export type Schema = (typeof SCHEMA)[keyof typeof SCHEMA];

/** Pacemaker's INFINITY score: fail-counts and thresholds at or above it are "infinite". */
export const PCMK_INFINITY = 1_000_000;

export interface CrmNode {
  readonly name: string;
  readonly id: string;
  readonly online: boolean;
  readonly standby: boolean;
  readonly standbyOnFail: boolean;
  readonly maintenance: boolean;
  readonly pending: boolean;
  readonly unclean: boolean;
  readonly shutdown: boolean;
  readonly expectedUp: boolean;
  readonly isDc: boolean;
  readonly resourcesRunning: number;
  /** member, remote, ping, unknown. */
  readonly type: string;
  /** green, yellow, red (Pacemaker >= 2.1); undefined before. */
  readonly health?: string | undefined;
  /** For a guest node (a bundle replica or a VM resource): the resource that is the node. */
  readonly guestOf?: string | undefined;
}

export interface Primitive {
  readonly kind: 'primitive';
  readonly id: string;
  /** Normalised to `class:provider:type` (1.1 writes `ocf::heartbeat:IPaddr2`). */
  readonly agent: string;
  /** Started, Stopped, Promoted, Unpromoted; 1.1/2.0 write Master/Slave. */
  readonly role: string;
  readonly targetRole?: string | undefined;
  readonly active: boolean;
  readonly orphaned: boolean;
  readonly blocked: boolean;
  readonly managed: boolean;
  readonly failed: boolean;
  readonly failureIgnored: boolean;
  /** Nodes the resource is active on. */
  readonly nodes: readonly string[];
  /** A pending operation (Starting, Stopping...) when record-pending is on. */
  readonly pending?: string | undefined;
}

export interface Group {
  readonly kind: 'group';
  readonly id: string;
  /** Undefined in the 1.1 schema (not written). */
  readonly managed?: boolean | undefined;
  readonly disabled?: boolean | undefined;
  readonly members: readonly Primitive[];
}

export interface Clone {
  readonly kind: 'clone';
  readonly id: string;
  /** `multi_state`: a promotable (master/slave) clone. */
  readonly promotable: boolean;
  readonly unique: boolean;
  readonly managed: boolean;
  readonly disabled?: boolean | undefined;
  readonly failed: boolean;
  readonly targetRole?: string | undefined;
  /** One entry per instance: a primitive, or a group for a cloned group. */
  readonly instances: readonly (Primitive | Group)[];
}

export interface Bundle {
  readonly kind: 'bundle';
  readonly id: string;
  readonly image?: string | undefined;
  readonly managed: boolean;
  readonly failed: boolean;
  readonly unique: boolean;
  /** Each replica as the list of its resources (IP, container, remote connection, inner resource). */
  readonly replicas: readonly { readonly id: string; readonly members: readonly Primitive[] }[];
}

export type Resource = Primitive | Group | Clone | Bundle;

export interface FailCount {
  readonly resource: string;
  readonly node: string;
  /** PCMK_INFINITY for INFINITY. */
  readonly failCount: number;
  /** Undefined when the threshold is INFINITY (the default: never move away). */
  readonly migrationThreshold?: number | undefined;
  readonly lastFailure?: string | undefined;
}

export interface FailedAction {
  readonly opKey: string;
  /** The resource, derived from the op key (`vip_monitor_10000` -> `vip`). */
  readonly resource: string;
  readonly node: string;
  readonly task?: string | undefined;
  readonly intervalMs?: number | undefined;
  /** Text such as `not running`, `error`. */
  readonly exitStatus: string;
  readonly exitReason?: string | undefined;
  readonly exitCode?: number | undefined;
  /** Execution status: complete, Timed Out, Error, ... */
  readonly status?: string | undefined;
  readonly lastRcChange?: string | undefined;
}

/** A negative location constraint (`crm_resource --ban` creates `cli-ban-*` ones). */
export interface Ban {
  readonly id: string;
  readonly resource: string;
  readonly node: string;
  readonly weight: number;
  readonly promotedOnly: boolean;
}

export interface ClusterStatus {
  readonly schema: Schema;
  /** crm_mon's version (legacy) or the API version (modern). */
  readonly version: string;
  readonly stack?: string | undefined;
  readonly dc: { readonly present: boolean; readonly name?: string | undefined; readonly withQuorum?: boolean | undefined };
  readonly lastUpdate?: string | undefined;
  readonly nodesConfigured?: number | undefined;
  readonly resourcesConfigured?: { readonly number: number; readonly disabled?: number | undefined; readonly blocked?: number | undefined } | undefined;
  readonly options: {
    readonly stonithEnabled?: boolean | undefined;
    readonly noQuorumPolicy?: string | undefined;
    readonly maintenanceMode: boolean;
    /** false for an opt-in cluster, where resources run only where constraints allow. */
    readonly symmetricCluster?: boolean | undefined;
    readonly stopAllResources: boolean;
  };
  readonly nodes: readonly CrmNode[];
  readonly resources: readonly Resource[];
  readonly failCounts: readonly FailCount[];
  readonly failures: readonly FailedAction[];
  readonly bans: readonly Ban[];
}

/** The input is not usable crm_mon XML (empty, truncated, garbage, another document). */
export class CrmParseError extends Error {
  override name = 'CrmParseError';
}

/** crm_mon ran but reported an error in its XML (`<status code="102" message="Not connected">`). */
export class CrmMonReportedError extends Error {
  override name = 'CrmMonReportedError';
  readonly code: number;
  readonly statusMessage: string;
  readonly errors: readonly string[];
  constructor(code: number, statusMessage: string, errors: readonly string[]) {
    super(errors[errors.length - 1] ?? statusMessage);
    this.code = code;
    this.statusMessage = statusMessage;
    this.errors = errors;
  }
}

interface El {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: readonly El[];
  readonly text: string;
}

type OrderedNode = Record<string, unknown>;

function toElements(list: unknown): El[] {
  if (!Array.isArray(list)) return [];
  const out: El[] = [];
  for (const item of list as OrderedNode[]) {
    const attrs = (item[':@'] ?? {}) as Record<string, string>;
    for (const key of Object.keys(item)) {
      if (key === ':@' || key === '#text' || key.startsWith('?')) continue;
      const kids = item[key];
      const text = Array.isArray(kids)
        ? (kids as OrderedNode[]).map((k) => (typeof k['#text'] === 'string' || typeof k['#text'] === 'number' ? String(k['#text']) : '')).join('')
        : '';
      out.push({ name: key, attrs, children: toElements(kids), text });
    }
  }
  return out;
}

const child = (el: El | undefined, name: string): El | undefined => el?.children.find((c) => c.name === name);
const children = (el: El | undefined, name: string): El[] => el?.children.filter((c) => c.name === name) ?? [];

function bool(v: string | undefined, dflt = false): boolean {
  if (v === undefined) return dflt;
  const t = v.trim().toLowerCase();
  return t === 'true' || t === '1' || t === 'yes' || t === 'on';
}

function optBool(v: string | undefined): boolean | undefined {
  return v === undefined ? undefined : bool(v);
}

function int(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = v.trim();
  if (/^\+?INFINITY$/i.test(t)) return PCMK_INFINITY;
  if (/^-INFINITY$/i.test(t)) return -PCMK_INFINITY;
  // Intervals are written "10000ms" in operation history.
  const m = /^(-?\d+)(?:ms)?$/.exec(t);
  return m ? Math.max(-PCMK_INFINITY, Math.min(PCMK_INFINITY, Number(m[1]))) : undefined;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v;
}

/** `ocf::heartbeat:IPaddr2` (1.1) and `ocf:heartbeat:IPaddr2` (2.x) both become the latter. */
function normaliseAgent(a: string | undefined): string {
  return (a ?? '').replace(/::/g, ':');
}

function parsePrimitive(el: El): Primitive {
  return {
    kind: 'primitive',
    id: el.attrs.id ?? '',
    agent: normaliseAgent(el.attrs.resource_agent),
    role: el.attrs.role ?? 'Unknown',
    targetRole: nonEmpty(el.attrs.target_role),
    active: bool(el.attrs.active),
    orphaned: bool(el.attrs.orphaned),
    blocked: bool(el.attrs.blocked),
    managed: bool(el.attrs.managed, true),
    failed: bool(el.attrs.failed),
    failureIgnored: bool(el.attrs.failure_ignored),
    nodes: children(el, 'node').map((n) => n.attrs.name ?? '').filter((n) => n !== ''),
    pending: nonEmpty(el.attrs.pending),
  };
}

function parseGroup(el: El): Group {
  return {
    kind: 'group',
    id: el.attrs.id ?? '',
    managed: optBool(el.attrs.managed),
    disabled: optBool(el.attrs.disabled),
    members: children(el, 'resource').map(parsePrimitive),
  };
}

function parseResource(el: El): Resource | undefined {
  switch (el.name) {
    case 'resource':
      return parsePrimitive(el);
    case 'group':
      return parseGroup(el);
    case 'clone':
      return {
        kind: 'clone',
        id: el.attrs.id ?? '',
        promotable: bool(el.attrs.multi_state),
        unique: bool(el.attrs.unique),
        managed: bool(el.attrs.managed, true),
        disabled: optBool(el.attrs.disabled),
        failed: bool(el.attrs.failed),
        targetRole: nonEmpty(el.attrs.target_role),
        instances: el.children.flatMap((c): (Primitive | Group)[] => (c.name === 'resource' ? [parsePrimitive(c)] : c.name === 'group' ? [parseGroup(c)] : [])),
      };
    case 'bundle':
      return {
        kind: 'bundle',
        id: el.attrs.id ?? '',
        image: nonEmpty(el.attrs.image),
        managed: bool(el.attrs.managed, true),
        failed: bool(el.attrs.failed),
        unique: bool(el.attrs.unique),
        replicas: children(el, 'replica').map((r) => ({ id: r.attrs.id ?? '', members: children(r, 'resource').map(parsePrimitive) })),
      };
    default:
      return undefined;
  }
}

/**
 * The resource an operation key belongs to: `<rsc>_<task>_<interval>`. Resource names may
 * contain underscores, so the known task and interval are stripped from the end.
 */
export function resourceFromOpKey(opKey: string, task?: string, interval?: number): string {
  if (task !== undefined && interval !== undefined) {
    const suffix = `_${task}_${interval}`;
    if (opKey.endsWith(suffix) && opKey.length > suffix.length) return opKey.slice(0, -suffix.length);
  }
  const m = /^(.+)_(monitor|start|stop|promote|demote|notify|migrate_to|migrate_from|reload|reload-agent|meta-data|validate-all|probe)_\d+$/.exec(opKey);
  return m?.[1] ?? opKey;
}

function parseFailure(el: El): FailedAction {
  const opKey = el.attrs.op_key ?? el.attrs.id ?? '';
  const task = nonEmpty(el.attrs.task);
  const intervalMs = int(el.attrs.interval);
  return {
    opKey,
    resource: resourceFromOpKey(opKey, task, intervalMs),
    node: el.attrs.node ?? '',
    task,
    intervalMs,
    exitStatus: el.attrs.exitstatus ?? '',
    // 1.1.x writes exitreason="none" when the agent gave no reason.
    exitReason: el.attrs.exitreason === 'none' ? undefined : nonEmpty(el.attrs.exitreason),
    exitCode: int(el.attrs.exitcode),
    status: nonEmpty(el.attrs.status),
    lastRcChange: nonEmpty(el.attrs['last-rc-change']),
  };
}

function describeStart(text: string): string {
  const s = text.trim().slice(0, 40).replace(/\s+/g, ' ');
  return s.length < text.trim().length ? `${s}...` : s;
}

function parseDocument(text: string): El {
  if (text.trim() === '') throw new CrmParseError('the crm_mon output is empty');
  const trimmed = text.trim();
  if (!trimmed.startsWith('<')) {
    throw new CrmParseError(`the input is not XML (it starts with '${describeStart(trimmed)}'); expected the output of crm_mon --output-as=xml or crm_mon --as-xml`);
  }
  const valid = XMLValidator.validate(trimmed);
  if (valid !== true) {
    const where = valid.err.line ? ` at line ${valid.err.line}` : '';
    throw new CrmParseError(`the crm_mon XML is malformed or truncated${where}: ${valid.err.msg}`);
  }
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '',
    preserveOrder: true,
    parseAttributeValue: false,
    parseTagValue: false,
    trimValues: true,
  });
  const roots = toElements(parser.parse(trimmed));
  const root = roots[0];
  if (!root) throw new CrmParseError('the crm_mon XML has no root element');
  return root;
}

function errorsOf(el: El | undefined): string[] {
  return children(child(el, 'errors'), 'error')
    .map((e) => e.text.trim())
    .filter((t) => t !== '');
}

/** Parses crm_mon XML of either schema; throws CrmParseError or CrmMonReportedError. */
export function parseCrmMon(text: string): ClusterStatus {
  const root = parseDocument(text);
  let schema: Schema;
  if (root.name === 'pacemaker-result') schema = SCHEMA.MODERN;
  else if (root.name === 'crm_mon') schema = SCHEMA.LEGACY;
  else if (root.name === 'cib') {
    throw new CrmParseError('the input is a CIB (cib.xml), not crm_mon output: use --cib-file PATH to have crm_mon read it');
  } else {
    throw new CrmParseError(`unexpected XML document <${root.name}>: expected <pacemaker-result> (crm_mon --output-as=xml) or <crm_mon> (crm_mon --as-xml)`);
  }

  const statusEl = child(root, 'status');
  const summary = child(root, 'summary');
  if (statusEl) {
    const code = int(statusEl.attrs.code) ?? 0;
    const errors = errorsOf(statusEl);
    if (code !== 0 || (!summary && errors.length > 0)) {
      throw new CrmMonReportedError(code, statusEl.attrs.message ?? '', errors);
    }
  }
  if (!summary) throw new CrmParseError(`the crm_mon XML has no <summary>: it is not a cluster status report (root <${root.name}>)`);
  const nodesEl = child(root, 'nodes');
  if (!nodesEl) throw new CrmParseError('the crm_mon XML has no <nodes> list: incomplete status report');

  const dcEl = child(summary, 'current_dc');
  const opts = child(summary, 'cluster_options');
  const resCfg = child(summary, 'resources_configured');
  const nodes: CrmNode[] = children(nodesEl, 'node').map((n) => ({
    name: n.attrs.name ?? '',
    id: n.attrs.id ?? '',
    online: bool(n.attrs.online),
    standby: bool(n.attrs.standby),
    standbyOnFail: bool(n.attrs.standby_onfail),
    maintenance: bool(n.attrs.maintenance),
    pending: bool(n.attrs.pending),
    unclean: bool(n.attrs.unclean),
    shutdown: bool(n.attrs.shutdown),
    expectedUp: bool(n.attrs.expected_up),
    isDc: bool(n.attrs.is_dc),
    resourcesRunning: int(n.attrs.resources_running) ?? 0,
    type: n.attrs.type ?? 'member',
    health: nonEmpty(n.attrs.health),
    // crm_mon 1.1.13 wrote container_id, later versions id_as_resource.
    guestOf: nonEmpty(n.attrs.id_as_resource ?? n.attrs.container_id),
  }));

  const resources: Resource[] = [];
  for (const el of child(root, 'resources')?.children ?? []) {
    const r = parseResource(el);
    if (r) resources.push(r);
  }

  const failCounts: FailCount[] = [];
  for (const n of children(child(root, 'node_history'), 'node')) {
    for (const h of children(n, 'resource_history')) {
      const fc = int(h.attrs['fail-count']);
      if (fc === undefined || fc <= 0) continue;
      const mt = int(h.attrs['migration-threshold']);
      failCounts.push({
        resource: h.attrs.id ?? '',
        node: n.attrs.name ?? '',
        failCount: fc,
        migrationThreshold: mt === undefined || mt <= 0 || mt >= PCMK_INFINITY ? undefined : mt,
        lastFailure: nonEmpty(h.attrs['last-failure']),
      });
    }
  }

  return {
    schema,
    version: root.attrs.version ?? root.attrs['api-version'] ?? '',
    stack: nonEmpty(child(summary, 'stack')?.attrs.type),
    dc: {
      present: bool(dcEl?.attrs.present),
      name: nonEmpty(dcEl?.attrs.name),
      withQuorum: optBool(dcEl?.attrs.with_quorum),
    },
    lastUpdate: nonEmpty(child(summary, 'last_update')?.attrs.time),
    nodesConfigured: int(child(summary, 'nodes_configured')?.attrs.number),
    resourcesConfigured: resCfg
      ? { number: int(resCfg.attrs.number) ?? 0, disabled: int(resCfg.attrs.disabled), blocked: int(resCfg.attrs.blocked) }
      : undefined,
    options: {
      stonithEnabled: optBool(opts?.attrs['stonith-enabled']),
      noQuorumPolicy: nonEmpty(opts?.attrs['no-quorum-policy']),
      maintenanceMode: bool(opts?.attrs['maintenance-mode']),
      symmetricCluster: optBool(opts?.attrs['symmetric-cluster']),
      stopAllResources: bool(opts?.attrs['stop-all-resources']),
    },
    nodes,
    resources,
    failCounts,
    failures: children(child(root, 'failures'), 'failure').map(parseFailure),
    bans: children(child(root, 'bans'), 'ban').map((b) => ({
      id: b.attrs.id ?? '',
      resource: b.attrs.resource ?? '',
      node: b.attrs.node ?? '',
      weight: int(b.attrs.weight) ?? -PCMK_INFINITY,
      promotedOnly: bool(b.attrs['promoted-only'] ?? b.attrs.master_only),
    })),
  };
}

/** True when the text holds crm_mon XML of either schema (possibly an error report). */
export function looksLikeCrmMonXml(text: string): boolean {
  return /<(pacemaker-result|crm_mon)[\s>]/.test(text);
}
