/**
 * Passive results: event handlers, cron jobs and other monitoring tools feed hawatch the way
 * Nagios takes PROCESS_SERVICE_CHECK_RESULT / PROCESS_HOST_CHECK_RESULT, through the same
 * state machine as a check (soft/hard, notifications, freshness).
 *
 * Two doors:
 * - POST /api/v1/results, native JSON, with the API token or a passive token as bearer;
 * - POST /nrdp/, the NRDP wire format (Nagios Remote Data Processor, as its server
 *   NagiosEnterprises/nrdp and its clients send_nrdp.sh / send_nrdp.py speak it): form fields
 *   token, cmd=submitcheck and XMLDATA (also xmldata, xml) or JSONDATA (jsondata, json);
 *   the answer is NRDP's result document, XML or JSON like the data sent.
 *
 * Passive tokens (server.passive_tokens, server.passive_tokens_file) may only submit results.
 * They are compared in constant time and never logged: only POST bodies carry them (a
 * token in the URL is refused, URLs end up in logs).
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { Type, type Static } from 'typebox';
import { parsePluginOutput } from '../../nagios/output.ts';
import { parseStateName } from '../../nagios/states.ts';
import { NotFoundError, type Monitor } from '../core/monitor.ts';
import { plainText } from '../core/text.ts';
import { serviceKey } from '../inventory/types.ts';
import type { CheckStatus } from '../state/types.ts';
import { tokenMatches } from './auth.ts';
import { ApiError } from './errors.ts';
import { ErrorBody, StatusView } from './schemas.ts';
import { statusView } from './views.ts';

/** The request as logged: the URL with any token value blanked. */
export function logRequest(req: { method: string; url: string; host?: string; ip?: string; socket?: { remotePort?: number | undefined } }): Record<string, unknown> {
  return { method: req.method, url: req.url.replace(/([?&][^=&]*token[^=&]*=)[^&#]*/gi, '$1REDACTED'), host: req.host, remoteAddress: req.ip, remotePort: req.socket?.remotePort };
}

/** Nagios' MAX_PLUGIN_OUTPUT_LENGTH: what a passive result may carry. */
const MAX_OUTPUT = 8192;
/** NRDP batches from nrds or a spooling client can be large. */
const NRDP_BODY_LIMIT = 4 * 1024 * 1024;

export interface PassiveResult {
  readonly host: string;
  readonly service: string | null;
  /** As sent: a number (0..3, hosts 0..2) or a state name. */
  readonly state: string | number;
  readonly output: string;
  /** When the sender observed it (Unix ms); default: when it arrives. */
  readonly observedAt?: number | undefined;
}

/** How far in the future an observation time may be (clock skew between agent and server). */
export const MAX_FUTURE_SKEW_MS = 5000;

export class PassiveError extends Error {
  override name = 'PassiveError';
  readonly problems: readonly string[];
  constructor(message: string, problems: readonly string[]) {
    super(message);
    this.problems = problems;
  }
}

/** The tokens allowed to submit results: the listed ones and those in the file (read now). */
export function passiveTokens(monitor: Monitor): string[] {
  const srv = monitor.inventory.server;
  const out = [...(srv.passiveTokens ?? [])];
  const file = srv.passiveTokensFile ?? null;
  if (file !== null) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ApiError('UNAVAILABLE', `cannot read server.passive_tokens_file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}, fix its path or permissions`);
    }
    for (const line of text.split('\n')) {
      const t = line.trim();
      if (t !== '' && !t.startsWith('#')) out.push(t);
    }
  }
  return out;
}

/** Constant time per token, and every token is compared: neither which one nor how much matched leaks. */
export function anyTokenMatches(given: string, tokens: readonly string[]): boolean {
  let ok = false;
  for (const t of tokens) ok = tokenMatches(given, t) || ok;
  return ok;
}

function hostState(raw: string | number): 0 | 1 | 2 | undefined {
  const t = String(raw).trim().toUpperCase();
  if (/^[0-2]$/.test(t)) return Number(t) as 0 | 1 | 2;
  return ({ UP: 0, DOWN: 1, UNREACHABLE: 2 } as const)[t as 'UP' | 'DOWN' | 'UNREACHABLE'];
}

/**
 * Checks a whole batch before applying any of it (all or nothing: a typo in one host name
 * must not leave half a batch applied), then applies it in order.
 */
export function applyPassiveResults(monitor: Monitor, now: number, results: readonly PassiveResult[], opts: PassiveApplyOptions = {}): CheckStatus[] {
  const problems: string[] = [];
  const planned: { key: string; state: number; output: string; observedAt: number; sentTime: boolean }[] = [];
  results.forEach((r, i) => {
    const where = results.length > 1 ? `result ${i + 1}: ` : '';
    const host = r.host.trim();
    const service = r.service === null ? null : r.service.trim();
    if (host === '') {
      problems.push(`${where}hostname is empty`);
      return;
    }
    const key = service === null || service === '' ? host : serviceKey(host, service);
    const o = monitor.object(key);
    if (!o) {
      problems.push(`${where}no ${service ? `service ${key}` : `host ${host}`} in the inventory`);
      return;
    }
    if (o.kind === 'cluster') {
      problems.push(`${where}${key} is a cluster rule: it is computed from its members`);
      return;
    }
    if (o.kind === 'host' && o.host.check === null && !o.host.passive) {
      // A host without a check (the virtual host of cluster rules, a local host, check: none)
      // is UP by definition and nothing would ever bring it back: a DOWN sent here would
      // silence every service and rule on it for good.
      problems.push(`${where}host ${key} has no check and is not passive: give it passive: true to feed it results`);
      return;
    }
    const state = o.kind === 'host' ? hostState(r.state) : parseStateName(String(r.state));
    if (state === undefined) {
      problems.push(`${where}state ${plainText(String(r.state)).slice(0, 20)} of ${key} is not ${o.kind === 'host' ? '0 UP, 1 DOWN or 2 UNREACHABLE' : '0 OK, 1 WARNING, 2 CRITICAL or 3 UNKNOWN'}`);
      return;
    }
    if (opts.onlyHost !== undefined && host !== opts.onlyHost) {
      problems.push(`${where}the push token of host ${opts.onlyHost} cannot submit results for ${key}`);
      return;
    }
    const observedAt = r.observedAt ?? now;
    if (observedAt > now + MAX_FUTURE_SKEW_MS) {
      problems.push(`${where}observed_at of ${key} is ${Math.round((observedAt - now) / 1000)} s in the future (more than ${MAX_FUTURE_SKEW_MS / 1000} s of clock skew): fix the sender clock (NTP)`);
      return;
    }
    planned.push({ key, state, output: r.output, observedAt, sentTime: r.observedAt !== undefined });
  });
  if (problems.length) throw new PassiveError(problems.length === 1 ? (problems[0] as string) : `${problems.length} results are wrong, nothing was applied: ${problems.join(', ')}`, problems);
  const applied: CheckStatus[] = [];
  for (const p of planned) {
    const current = monitor.status(p.key) as CheckStatus;
    // A result observed before the state it would replace (a queued push delivered late,
    // after the server checked for itself) is history: it must not overwrite a newer state.
    // A result without observed_at is taken as observed now, as Nagios takes it.
    if (p.sentTime && current.checked && current.lastCheck !== null && p.observedAt < current.lastCheck) {
      opts.onStale?.(p.key);
      continue;
    }
    if (monitor.confirm.onPassive(p.key, p.state, current, now)) opts.recheck?.(p.key);
    // NRDP clients send a newline as the two characters backslash n (Nagios unescapes them).
    const parsed = parsePluginOutput(p.output.slice(0, MAX_OUTPUT).replace(/\\n/g, '\n'));
    applied.push(monitor.submitPassiveResult(p.key, {
      state: p.state,
      output: parsed.output === '' && parsed.longOutput === '' ? '(No output returned from passive result)' : parsed.output,
      longOutput: parsed.longOutput,
      perfdata: parsed.perfdataText,
      executedAt: p.observedAt,
      durationMs: 0,
    }));
  }
  return applied;
}

export interface PassiveApplyOptions {
  /** A per-host push token: results for other hosts are refused. */
  readonly onlyHost?: string | undefined;
  /** Runs an active re-check (confirmation of a pushed problem, server/state/confirm.ts). */
  readonly recheck?: (key: string) => void;
  /** A result older than the state it would replace was skipped. */
  readonly onStale?: (key: string) => void;
}

/** The push tokens of the hosts that have one (hosts.NAME.push_token_file), read now. */
export function hostPushTokens(monitor: Monitor): { host: string; token: string }[] {
  const out: { host: string; token: string }[] = [];
  for (const h of monitor.inventory.hosts.values()) {
    const file = h.pushTokenFile ?? null;
    if (file === null) continue;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ApiError('UNAVAILABLE', `cannot read hosts.${h.name}.push_token_file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}, fix its path or permissions`);
    }
    const token = text.split('\n').map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#'));
    if (token) out.push({ host: h.name, token });
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Native JSON

const ResultBody = Type.Object(
  {
    host: Type.String({ minLength: 1, maxLength: 255 }),
    service: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'absent for a host result' })),
    state: Type.Union([Type.Integer({ minimum: 0, maximum: 3 }), Type.String({ maxLength: 20 })], { description: 'service: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (or the name); host: 0 UP, 1 DOWN, 2 UNREACHABLE' }),
    output: Type.String({ maxLength: 65536, description: 'plugin output: first line, optional long output and perfdata after |' }),
    observed_at: Type.Optional(Type.Number({ minimum: 0, description: 'when the sender observed it, Unix seconds (fractions allowed); at most 5 s in the future; a result older than the current state is skipped' })),
  },
  { additionalProperties: false },
);
type ResultBodyT = Static<typeof ResultBody>;
const ResultsBody = Type.Union([
  ResultBody,
  Type.Object({ results: Type.Array(ResultBody, { minItems: 1, maxItems: 1000 }), dropped: Type.Optional(Type.Integer({ minimum: 0, description: 'results the sender dropped from its full queue since its last delivery (logged)' })) }, { additionalProperties: false }),
]);
/** Requests authenticated with a host's push token: that host. */
const pushHostOf = new WeakMap<FastifyRequest, string>();

export async function passiveApiRoutes(app0: FastifyInstance): Promise<void> {
  const app = app0.withTypeProvider<TypeBoxTypeProvider>();
  const h = app.hawatch;
  const auth = async (req: FastifyRequest): Promise<void> => {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    const api = h.apiToken();
    const tokens = passiveTokens(h.monitor);
    const hostTokens = hostPushTokens(h.monitor);
    if (api === null && tokens.length === 0 && hostTokens.length === 0) throw new ApiError('UNAUTHORIZED', 'this server has neither an API token nor passive tokens, so results cannot be submitted: set HAWATCH_API_TOKEN or server.passive_tokens_file');
    const given = m?.[1] ?? '';
    // Every host token is compared (constant time each), whichever matches.
    let host: string | undefined;
    for (const t of hostTokens) if (tokenMatches(given, t.token) && host === undefined) host = t.host;
    const ok = m !== null && ((api !== null && tokenMatches(given, api)) || anyTokenMatches(given, tokens) || host !== undefined);
    if (!ok) throw new ApiError('UNAUTHORIZED', 'missing or wrong bearer token (Authorization: Bearer <API, passive or host push token>)');
    if (host !== undefined) pushHostOf.set(req, host);
  };

  app.post('/results', {
    preHandler: auth,
    schema: {
      summary: 'Submit passive results (Nagios PROCESS_SERVICE_CHECK_RESULT / PROCESS_HOST_CHECK_RESULT): one, or {results: [...]}; all or nothing',
      tags: ['commands'],
      security: [{ bearer: [] }],
      body: ResultsBody,
      response: { 200: Type.Object({ processed: Type.Integer(), stale: Type.Optional(Type.Integer({ description: 'results skipped: observed before the state they would replace' })), statuses: Type.Array(StatusView) }), 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 503: ErrorBody },
    },
  }, async (req) => {
    const body = req.body as ResultBodyT | { results: ResultBodyT[]; dropped?: number };
    const list = 'results' in body ? body.results : [body];
    const now = h.clock.now();
    const onlyHost = pushHostOf.get(req);
    if ('dropped' in body && body.dropped) req.log.warn({ host: onlyHost, dropped: body.dropped }, 'the sender dropped results from its full queue while it could not reach this server');
    let statuses: CheckStatus[];
    let stale = 0;
    try {
      statuses = applyPassiveResults(
        h.monitor,
        now,
        list.map((r) => ({ host: r.host, service: r.service ?? null, state: r.state, output: r.output, observedAt: r.observed_at === undefined ? undefined : Math.round(r.observed_at * 1000) })),
        { onlyHost, recheck: (key) => void h.scheduler?.recheck(key), onStale: () => stale++ },
      );
    } catch (e) {
      if (e instanceof PassiveError) throw new ApiError(e.problems.every((p) => / in the inventory$/.test(p)) ? 'NOT_FOUND' : e.problems.some((p) => /cannot submit results for/.test(p)) ? 'FORBIDDEN' : 'BAD_REQUEST', e.message, e.problems);
      throw e;
    }
    return { processed: statuses.length, ...(stale ? { stale } : {}), statuses: statuses.map((s) => statusView(h.monitor, s, now)) };
  });
}

// ---------------------------------------------------------------------------------------
// NRDP

type NrdpFormat = 'xml' | 'json';

function xmlEscape(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/** NRDP's answer document, laid out as its server writes it (generate_xml_from_arr, 4 spaces). */
export function nrdpDocument(format: NrdpFormat, root: string, fields: Record<string, string | number | Record<string, string>>): string {
  if (format === 'json') return JSON.stringify({ [root]: fields });
  const lines = ['<?xml version="1.0" encoding="utf-8"?>', `<${root}>`];
  for (const [k, v] of Object.entries(fields)) {
    if (typeof v === 'object') {
      lines.push(`    <${k}>`);
      for (const [k2, v2] of Object.entries(v)) lines.push(`        <${k2}>${xmlEscape(v2)}</${k2}>`);
      lines.push(`    </${k}>`);
    } else lines.push(`    <${k}>${xmlEscape(String(v))}</${k}>`);
  }
  lines.push(`</${root}>`, '');
  return lines.join('\n');
}

class NrdpError extends Error {
  override name = 'NrdpError';
  readonly httpStatus: number;
  readonly information: string | null;
  /** message: NRDP's error constant (clients match on it), then what to do. */
  constructor(httpStatus: number, message: string, information: string | null = null) {
    super(message);
    this.httpStatus = httpStatus;
    this.information = information;
  }
}

/** The check results of an NRDP XMLDATA document. */
export function parseNrdpXml(xml: string): PassiveResult[] {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    const e = valid.err;
    throw new NrdpError(200, `BAD XML: line ${e.line} column ${e.col}: ${plainText(e.msg)}`, `${e.code} at line ${e.line} column ${e.col}`);
  }
  const doc = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@_',
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: false,
    processEntities: true,
    isArray: (name) => name === 'checkresult',
  }).parse(xml) as Record<string, unknown>;
  const root = doc.checkresults as { checkresult?: unknown[] } | undefined | string;
  if (root === undefined || typeof root !== 'object') throw new NrdpError(200, 'BAD XML: the document has no checkresults element: send checkresults with checkresult elements');
  const text = (v: unknown): string => (v === undefined || v === null ? '' : typeof v === 'object' ? String((v as Record<string, unknown>)['#text'] ?? '') : String(v));
  return (root.checkresult ?? []).map((cr) => {
    const o = (cr ?? {}) as Record<string, unknown>;
    const type = String(o['@_type'] ?? 'host');
    return { host: text(o.hostname), service: type === 'service' ? text(o.servicename) : null, state: text(o.state).trim(), output: text(o.output) };
  });
}

/** The check results of an NRDP JSONDATA document: {"checkresults": [{"checkresult": {"type": ...}, "hostname": ...}]}. */
export function parseNrdpJson(json: string): PassiveResult[] {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (e) {
    throw new NrdpError(200, `BAD JSON: ${plainText((e as Error).message)}`);
  }
  const list = (doc as { checkresults?: unknown } | null)?.checkresults;
  if (!Array.isArray(list)) throw new NrdpError(200, 'BAD JSON: expected an object with a checkresults list');
  return list.map((cr) => {
    const o = (cr ?? {}) as Record<string, unknown>;
    const type = String((o.checkresult as { type?: unknown } | undefined)?.type ?? 'host');
    const s = (v: unknown) => (v === undefined || v === null ? '' : String(v));
    return { host: s(o.hostname), service: type === 'service' ? s(o.servicename) : null, state: s(o.state), output: s(o.output) };
  });
}

export async function nrdpRoutes(app: FastifyInstance): Promise<void> {
  const h = app.hawatch;
  // Form bodies, in this plugin only: field order and repeats as PHP reads them (the last wins).
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: NRDP_BODY_LIMIT }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  const send = (reply: FastifyReply, format: NrdpFormat, httpStatus: number, fields: Record<string, string | number | Record<string, string>>, root = 'result') =>
    reply.status(httpStatus).header('content-type', format === 'json' ? 'application/json' : 'text/xml').send(nrdpDocument(format, root, fields));
  // Every answer of this door is an NRDP document, errors included (clients read status and message).
  app.setErrorHandler((err, req, reply) => {
    const e = err as { statusCode?: number; message: string };
    const status = typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500 ? e.statusCode : 500;
    if (status === 500) req.log.error({ err }, 'NRDP request failed');
    void send(reply, 'xml', status, { status: -1, message: status === 500 ? 'INTERNAL ERROR: see the server log' : `BAD REQUEST: ${plainText(e.message)}` });
  });

  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const q = req.query as Record<string, unknown>;
    const f = (req.body ?? {}) as Record<string, string | undefined>;
    const xml = f.xml ?? f.xmldata ?? f.XMLDATA;
    const json = f.json ?? f.jsondata ?? f.JSONDATA;
    const format: NrdpFormat = f.output_type === 'TYPE_JSON' || (xml === undefined && json !== undefined) ? 'json' : 'xml';
    try {
      if (q.token !== undefined) throw new NrdpError(400, 'TOKEN IN URL: send the token in the POST body, URLs end up in logs');
      const cmd = (f.cmd ?? '').toLowerCase();
      if (cmd === 'hello') return send(reply, format, 200, { status: 0, message: 'OK', product: 'hawatch', version: h.version }, 'response');
      const tokens = passiveTokens(h.monitor);
      if (tokens.length === 0) throw new NrdpError(403, 'NO TOKENS: this server has no passive tokens: set server.passive_tokens_file (one token a line)');
      if (!f.token) throw new NrdpError(403, 'NO TOKEN: send the form field token');
      if (!anyTokenMatches(f.token, tokens)) throw new NrdpError(403, 'BAD TOKEN: the token is not one of server.passive_tokens');
      if (cmd === 'submitcmd') throw new NrdpError(200, 'COMMANDS DISABLED: hawatch takes check results only (cmd=submitcheck)');
      if (cmd !== 'submitcheck') throw new NrdpError(200, 'NO COMMAND: send cmd=submitcheck');
      const data = format === 'json' && json !== undefined ? parseNrdpJson(json) : xml !== undefined ? parseNrdpXml(xml) : null;
      if (data === null) throw new NrdpError(200, 'NO DATA: send the check results in the form field XMLDATA (or JSONDATA)');
      let statuses: CheckStatus[];
      try {
        statuses = applyPassiveResults(h.monitor, h.clock.now(), data, { recheck: (key) => void h.scheduler?.recheck(key) });
      } catch (e) {
        if (e instanceof PassiveError || e instanceof NotFoundError) throw new NrdpError(200, `BAD CHECK RESULT: ${e.message}`);
        throw e;
      }
      return send(reply, format, 200, { status: 0, message: 'OK', meta: { output: `${statuses.length} checks processed` } });
    } catch (e) {
      if (!(e instanceof NrdpError)) throw e;
      // The token is never part of what is logged or answered.
      req.log.warn({ nrdp: e.message.split(':')[0] }, 'NRDP request refused');
      return send(reply, format, e.httpStatus, { status: -1, message: e.message, ...(e.information ? { information: e.information } : {}) });
    }
  };
  const schema = { summary: 'NRDP: submit passive check results (form fields token, cmd=submitcheck, XMLDATA or JSONDATA)', tags: ['commands'] };
  app.post('/nrdp', { schema, bodyLimit: NRDP_BODY_LIMIT }, handler);
  app.post('/nrdp/', { schema, bodyLimit: NRDP_BODY_LIMIT }, handler);
}
