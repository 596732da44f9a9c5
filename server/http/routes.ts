/** The JSON API (v1). Reads are open; everything that changes state needs the bearer token. */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { requireToken } from './auth.ts';
import { ApiError } from './errors.ts';
import {
  AckBody,
  DowntimeBody,
  DowntimeView,
  ErrorBody,
  HistoryEventView,
  HostView,
  KeyBody,
  OutboxView,
  SilenceBody,
  SilenceView,
  StatusView,
  Summary,
} from './schemas.ts';
import { downtimeView, historyView, outboxView, silenceView, sortProblemsFirst, statusView } from './views.ts';
import { matcherProblem } from '../notify/silences.ts';
import { problemsFirstOrder } from './order.ts';

/**
 * Pages of the object lists (issue 15 item 6): building the view of 10,000 objects in one answer
 * held the event loop about 0.2 s; a page of a few hundred holds it a few milliseconds and lets
 * checks, results and other requests in between. Offsets into the problems-first order: an object
 * whose rank changes between two pages can be seen twice or missed until the next refresh.
 */
const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, description: 'at most this many objects (default: all)' })),
  offset: Type.Integer({ minimum: 0, default: 0, description: 'skip this many (the nextOffset of the previous page)' }),
};
const PageAnswer = {
  total: Type.Integer({ description: 'objects in the whole list' }),
  nextOffset: Type.Union([Type.Integer(), Type.Null()], { description: 'offset of the next page, null after the last' }),
};
export function pageOf<T>(list: readonly T[], q: { limit?: number | undefined; offset?: number | undefined }): { items: T[]; total: number; nextOffset: number | null } {
  const offset = q.offset ?? 0;
  const end = q.limit === undefined ? list.length : Math.min(list.length, offset + q.limit);
  return { items: list.slice(offset, end), total: list.length, nextOffset: end < list.length ? end : null };
}

/** Silences not yet expired, at most (POST answers 409 beyond). */
export const MAX_SILENCES = 1000;

const errors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody, 422: ErrorBody, 503: ErrorBody };
const security = [{ bearer: [] }];

export async function apiRoutes(app0: FastifyInstance): Promise<void> {
  const app = app0.withTypeProvider<TypeBoxTypeProvider>();
  const h = app.hawatch;
  const now = () => h.clock.now();
  const auth = requireToken(h.apiToken);
  const status = (key: string) => {
    const s = h.monitor.status(key);
    if (!s) throw new ApiError('NOT_FOUND', `no host or service '${key}' in the inventory`);
    return statusView(h.monitor, s, now());
  };

  app.get('/hosts', {
    schema: {
      summary: 'Hosts with their current state, in inventory order (paged like /services)',
      tags: ['state'],
      querystring: Type.Object({ problems: Type.Optional(Type.Boolean({ description: 'only hosts checked and not UP' })), ...PageQuery }),
      response: { 200: Type.Object({ hosts: Type.Array(HostView), ...PageAnswer }) },
    },
  }, async (req) => {
    // Inventory order, not problems first: it does not move between two pages, so a walk
    // with offsets sees every host once (the status of each is current).
    let list = [...h.monitor.inventory.hosts.values()];
    if (req.query.problems) list = list.filter((x) => {
      const s = h.monitor.status(x.name);
      return s !== undefined && s.checked && s.state !== 0;
    });
    const page = pageOf(list, req.query);
    const counts = new Map<string, number>();
    for (const o of h.monitor.objects()) if (o.kind !== 'host') {
      const hn = o.kind === 'service' ? o.service.hostName : o.rule.hostName;
      counts.set(hn, (counts.get(hn) ?? 0) + 1);
    }
    return {
      hosts: page.items.map((x) => ({ name: x.name, address: x.address, transport: x.virtual ? 'virtual' : x.transport.kind, virtual: x.virtual, services: counts.get(x.name) ?? 0, status: status(x.name) })),
      total: page.total,
      nextOffset: page.nextOffset,
    };
  });

  app.get('/hosts/:host', {
    schema: {
      summary: 'One host, its state and its services',
      tags: ['state'],
      params: Type.Object({ host: Type.String() }),
      response: { 200: Type.Object({ host: HostView, services: Type.Array(StatusView) }), ...errors },
    },
  }, async (req) => {
    const x = h.monitor.inventory.hosts.get(req.params.host);
    if (!x) throw new ApiError('NOT_FOUND', `no host '${req.params.host}' in the inventory`);
    const services = h.monitor.allStatuses().filter((s) => s.kind === 'service' && s.hostName === x.name);
    return {
      host: { name: x.name, address: x.address, transport: x.virtual ? 'virtual' : x.transport.kind, virtual: x.virtual, services: services.length, status: status(x.name) },
      services: sortProblemsFirst(services).map((s) => statusView(h.monitor, s, now())),
    };
  });

  app.get('/services', {
    schema: {
      summary: 'Services (and cluster rules) with their current state, problems first',
      tags: ['state'],
      querystring: Type.Object({ problems: Type.Optional(Type.Boolean()), host: Type.Optional(Type.String()), ...PageQuery }),
      response: { 200: Type.Object({ services: Type.Array(StatusView), ...PageAnswer }) },
    },
  }, async (req) => {
    let list = h.monitor.allStatuses().filter((s) => s.kind === 'service');
    if (req.query.host !== undefined) list = list.filter((s) => s.hostName === req.query.host);
    if (req.query.problems) list = list.filter((s) => s.checked && s.state !== 0);
    const page = pageOf(sortProblemsFirst(list), req.query);
    return { services: page.items.map((s) => statusView(h.monitor, s, now())), total: page.total, nextOffset: page.nextOffset };
  });

  // The problems-first order of the first page, reused by the pages that follow it for a few
  // seconds: sorting 10,000 objects again for each page cost as much as the page itself, and one
  // order for the whole walk means no object is seen twice or missed. The states shown are
  // always current (looked up by key); the order is at most ORDER_REUSE_MS old.
  const ORDER_REUSE_MS = 5000;
  let order: { at: number; keys: string[] } | null = null;
  const orderOf = problemsFirstOrder();
  const statusOrder = (offset: number): string[] => {
    if (offset > 0 && order && performance.now() - order.at < ORDER_REUSE_MS) return order.keys;
    order = { at: performance.now(), keys: orderOf(h.monitor) };
    return order.keys;
  };

  // The counts of every page of the walk: counting 10,000 objects again for each page of 500
  // cost a third of what building the page did. Recounted after any status event or reload,
  // and at least every ORDER_REUSE_MS.
  let counts: { at: number; hosts: Record<string, number>; services: Record<string, number> } | null = null;
  const offCounts = h.monitor.on((e) => {
    if (e.type === 'status' || e.type === 'reload') counts = null;
  });
  app.addHook('onClose', async () => offCounts());
  const summaryCounts = () => {
    if (!counts || performance.now() - counts.at >= ORDER_REUSE_MS) {
      const sum = h.monitor.summary();
      counts = { at: performance.now(), hosts: sum.hosts, services: sum.services };
    }
    return counts;
  };

  app.get('/status', {
    schema: {
      summary: 'Everything the status page shows: counts and every object, problems first',
      tags: ['state'],
      response: {
        200: Type.Object({
          generatedAt: Type.Number(),
          title: Type.String(),
          version: Type.String(),
          degraded: Type.Union([Type.Null(), Type.Object({ since: Type.Number(), message: Type.String() })], { description: 'set while the store cannot be written (full disk): state is live but not stored' }),
          summary: Summary,
          objects: Type.Array(StatusView),
          ...PageAnswer,
        }),
      },
      querystring: Type.Object({
        ...PageQuery,
        keys: Type.Optional(Type.String({ maxLength: 100_000, description: 'only these objects, keys separated by newlines (%0A): what a status event named; unknown keys are left out' })),
      }),
    },
  }, async (req) => {
    const sum = summaryCounts();
    // Only what changed: the page asks for the keys of a status event instead of everything.
    const page = req.query.keys !== undefined ? pageOf(req.query.keys.split('\n').filter((k) => h.monitor.status(k) !== undefined), req.query) : pageOf(statusOrder(req.query.offset ?? 0), req.query);
    return {
      generatedAt: now(),
      degraded: h.health?.degraded ?? null,
      title: h.monitor.inventory.server.title,
      version: h.version,
      summary: { hosts: sum.hosts, services: sum.services },
      objects: page.items.flatMap((k) => {
        const s = h.monitor.status(k);
        return s ? [statusView(h.monitor, s, now())] : [];
      }),
      total: page.total,
      nextOffset: page.nextOffset,
    };
  });

  app.get('/objects/*', {
    schema: {
      summary: 'One host or service by key (host or host/service)',
      tags: ['state'],
      params: Type.Object({ '*': Type.String() }),
      response: { 200: Type.Object({ status: StatusView, downtimes: Type.Array(DowntimeView) }), ...errors },
    },
  }, async (req) => {
    const key = req.params['*'];
    return { status: status(key), downtimes: h.monitor.downtimes(key).map((d) => downtimeView(d, now())) };
  });

  app.get('/history', {
    schema: {
      summary: 'State changes, notifications suppressed, acknowledgements, downtimes: newest first',
      tags: ['state'],
      querystring: Type.Object({
        key: Type.Optional(Type.String({ description: 'one object' })),
        host: Type.Optional(Type.String({ description: 'a host and its services' })),
        limit: Type.Integer({ minimum: 1, maximum: 5000, default: 100 }),
        before: Type.Optional(Type.Number({ description: 'epoch ms, for paging' })),
      }),
      response: { 200: Type.Object({ events: Type.Array(HistoryEventView) }) },
    },
  }, async (req) => ({
    events: (await h.store.history({ key: req.query.key, prefix: req.query.host, limit: req.query.limit, before: req.query.before })).map(historyView),
  }));

  app.get('/downtimes', {
    schema: { summary: 'Scheduled downtimes (pending and active)', tags: ['downtime'], response: { 200: Type.Object({ downtimes: Type.Array(DowntimeView) }) } },
  }, async () => ({ downtimes: h.monitor.downtimes().map((d) => downtimeView(d, now())) }));

  app.get('/notifications', {
    schema: {
      summary: 'The notification outbox, newest first',
      tags: ['notifications'],
      querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 1000, default: 50 }) }),
      response: { 200: Type.Object({ pending: Type.Integer(), sent: Type.Integer(), quarantined: Type.Integer(), outbox: Type.Array(OutboxView) }) },
    },
  }, async (req) => ({ ...(await h.store.outboxCounts()), outbox: (await h.store.recentOutbox(req.query.limit)).map(outboxView) }));

  app.post('/acknowledge', {
    preHandler: auth,
    schema: { summary: 'Acknowledge a problem (normal or sticky)', tags: ['commands'], security, body: AckBody, response: { 200: Type.Object({ status: StatusView }), ...errors } },
  }, async (req) => {
    const { key, ...ack } = req.body;
    status(key);
    return { status: statusView(h.monitor, h.monitor.acknowledge(key, ack), now()) };
  });

  app.delete('/acknowledge', {
    preHandler: auth,
    schema: { summary: 'Remove an acknowledgement', tags: ['commands'], security, querystring: KeyBody, response: { 200: Type.Object({ status: StatusView }), ...errors } },
  }, async (req) => {
    status(req.query.key);
    return { status: statusView(h.monitor, h.monitor.removeAcknowledgement(req.query.key), now()) };
  });

  app.post('/downtimes', {
    preHandler: auth,
    schema: { summary: 'Schedule downtime (fixed or flexible)', tags: ['downtime', 'commands'], security, body: DowntimeBody, response: { 200: Type.Object({ downtimes: Type.Array(DowntimeView) }), ...errors } },
  }, async (req) => {
    const b = req.body;
    status(b.key);
    const start = b.start ?? now();
    if (b.durationMs !== undefined && b.duration !== undefined) throw new ApiError('BAD_REQUEST', 'give durationMs (milliseconds) or the deprecated duration (seconds), not both');
    const durationMs = b.durationMs ?? (b.duration !== undefined ? b.duration * 1000 : 0);
    const fixed = b.fixed ?? true;
    const end = b.end ?? (fixed && durationMs > 0 ? start + durationMs : undefined);
    if (end === undefined) throw new ApiError('BAD_REQUEST', fixed ? 'a fixed downtime needs end or durationMs' : 'a flexible downtime needs end (the window) and durationMs');
    if (!fixed && durationMs <= 0) throw new ApiError('BAD_REQUEST', 'a flexible downtime needs durationMs (milliseconds it lasts once triggered)');
    const created = h.monitor.scheduleDowntime({ key: b.key, includeServices: b.includeServices ?? false, fixed, start, end, durationMs, author: b.author, comment: b.comment });
    return { downtimes: created.map((d) => downtimeView(d, now())) };
  });

  app.delete('/downtimes/:id', {
    preHandler: auth,
    schema: { summary: 'Cancel a downtime', tags: ['downtime', 'commands'], security, params: Type.Object({ id: Type.String() }), response: { 200: Type.Object({ cancelled: Type.String() }), ...errors } },
  }, async (req) => {
    h.monitor.cancelDowntime(req.params.id);
    return { cancelled: req.params.id };
  });

  app.get('/silences', {
    schema: { summary: 'Silences not yet expired (active and future), oldest first', tags: ['silence'], response: { 200: Type.Object({ silences: Type.Array(SilenceView) }) } },
  }, async () => ({ silences: h.monitor.silences().map((x) => silenceView(h.monitor, x, now())) }));

  app.post('/silences', {
    preHandler: auth,
    schema: { summary: 'Silence notifications of the objects that match (host/service glob, states, rule) until end', tags: ['silence', 'commands'], security, body: SilenceBody, response: { 200: Type.Object({ silence: SilenceView }), ...errors } },
  }, async (req) => {
    const b = req.body;
    const matchers = { host: b.host, service: b.service ?? null, states: b.states ? b.states.map((x) => x.toUpperCase()) : null, rule: b.rule ?? null };
    const problem = matcherProblem(matchers, (k) => h.monitor.object(k)?.kind === 'cluster');
    if (problem !== null) throw new ApiError('BAD_REQUEST', problem);
    const start = b.start ?? now();
    if (b.end !== undefined && b.durationMs !== undefined) throw new ApiError('BAD_REQUEST', 'give end (epoch ms) or durationMs, not both');
    const end = b.end ?? (b.durationMs !== undefined ? start + b.durationMs : undefined);
    if (end === undefined) throw new ApiError('BAD_REQUEST', 'a silence needs end (epoch ms) or durationMs');
    if (end <= start || end <= now()) throw new ApiError('BAD_REQUEST', 'the silence must end after its start and in the future');
    // Each silence is matched against every object on every status request: keep them few.
    if (h.monitor.silences().length >= MAX_SILENCES) throw new ApiError('CONFLICT', `already ${MAX_SILENCES} silences not yet expired: expire some (DELETE /api/v1/silences/ID) or widen one with a glob`);
    return { silence: silenceView(h.monitor, h.monitor.addSilence({ matchers, author: b.author, comment: b.comment, start, end }), now()) };
  });

  app.delete('/silences/:id', {
    preHandler: auth,
    schema: { summary: 'Expire a silence now: what it held and is still a problem notifies', tags: ['silence', 'commands'], security, params: Type.Object({ id: Type.String() }), response: { 200: Type.Object({ expired: Type.String() }), ...errors } },
  }, async (req) => {
    h.monitor.expireSilence(req.params.id);
    return { expired: req.params.id };
  });

  app.post('/recheck', {
    preHandler: auth,
    schema: { summary: 'Run a check now and wait for its result', tags: ['commands'], security, body: KeyBody, response: { 200: Type.Object({ status: StatusView }), ...errors } },
  }, async (req) => {
    const o = h.monitor.object(req.body.key);
    if (!o) throw new ApiError('NOT_FOUND', `no host or service '${req.body.key}' in the inventory`);
    if (o.kind === 'cluster') throw new ApiError('CONFLICT', `${req.body.key} is a cluster rule: re-check its members`);
    if (o.kind === 'host' && o.host.check === null) throw new ApiError('CONFLICT', `host ${o.key} has no check command`);
    if (o.kind === 'service' && o.service.passive) throw new ApiError('CONFLICT', `${o.key} is passive: it runs nothing, its results come from POST /api/v1/results or NRDP`);
    if (!h.scheduler) throw new ApiError('UNAVAILABLE', 'the scheduler is not running');
    await h.scheduler.recheck(req.body.key);
    return { status: status(req.body.key) };
  });

  app.post('/reload', {
    preHandler: auth,
    schema: {
      summary: 'Re-read and apply the inventory file (nothing changes if it has problems)',
      tags: ['commands'],
      security,
      response: { 200: Type.Object({ hosts: Type.Integer(), services: Type.Integer(), clusterRules: Type.Integer(), warnings: Type.Array(Type.String()) }), ...errors },
    },
  }, async () => {
    if (!h.reload) throw new ApiError('UNAVAILABLE', 'this server runs on the embedded default inventory: start it with --config FILE to reload');
    const inv = await h.reload();
    return { hosts: inv.hosts.size, services: inv.services.size, clusterRules: inv.clusterRules.size, warnings: [...inv.warnings] };
  });

  const streams = new Set<() => void>();
  const perSource = new Map<string, number>();
  app.addHook('onClose', async () => {
    for (const close of [...streams]) close();
  });

  app.get('/events', {
    schema: { summary: 'Server-sent events: "status" with changed keys, "reload"', tags: ['state'], response: { 429: ErrorBody, 503: ErrorBody } },
  }, (req, reply) => {
    // Each stream holds a socket and memory for as long as the client likes: bounded per
    // client address and in total, so one client cannot take them all.
    const srv = h.monitor.inventory.server;
    const source = req.ip;
    const mine = perSource.get(source) ?? 0;
    if (mine >= srv.sseMaxPerSource) throw new ApiError('TOO_MANY_REQUESTS', `${mine} event streams are open from ${source}, the limit is ${srv.sseMaxPerSource} (server.sse_max_per_source): close some pages`);
    if (streams.size >= srv.sseMaxTotal) throw new ApiError('UNAVAILABLE', `${streams.size} event streams are open, the limit is ${srv.sseMaxTotal} (server.sse_max_total): try again later or poll /api/v1/status`);
    perSource.set(source, mine + 1);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(`retry: 2000\n\n`);
    let pendingKeys = new Set<string>();
    let flushTimer: NodeJS.Timeout | null = null;
    const flush = () => {
      flushTimer = null;
      if (pendingKeys.size) res.write(`event: status\ndata: ${JSON.stringify({ keys: [...pendingKeys] })}\n\n`);
      pendingKeys = new Set();
    };
    const off = h.monitor.on((e) => {
      if (e.type === 'status') {
        for (const k of e.keys) pendingKeys.add(k);
        flushTimer ??= setTimeout(flush, 200);
      } else if (e.type === 'reload') res.write(`event: reload\ndata: {}\n\n`);
    });
    const ping = setInterval(() => res.write(`: ping\n\n`), 15_000);
    const close = () => {
      if (!streams.delete(close)) return;
      const n = (perSource.get(source) ?? 1) - 1;
      if (n > 0) perSource.set(source, n);
      else perSource.delete(source);
      off();
      clearInterval(ping);
      if (flushTimer) clearTimeout(flushTimer);
      res.end();
    };
    streams.add(close);
    req.raw.on('close', close);
  });
}
