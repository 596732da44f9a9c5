/**
 * Builds the Fastify app from ready domain services. Never listens: main.ts does, tests
 * call app.inject() (fastify/demo style).
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import domain, { type HawatchServices } from './plugins/domain.ts';
import { registerErrorHandler } from './http/errors.ts';
import { registerMetrics } from './http/metrics.ts';
import { registerHaRoutes } from './ha/http.ts';
import { PAGE_CSS, PAGE_HTML, PAGE_JS } from './http/page.ts';
import { apiRoutes } from './http/routes.ts';
import { perfdataRoutes } from './http/perfdata-routes.ts';
import { registerServiceView } from './http/service-view.ts';
import { registerHostClusterViews } from './http/host-cluster-view.ts';
import { logRequest, nrdpRoutes, passiveApiRoutes } from './http/passive.ts';

export interface BuildAppOptions {
  readonly services: HawatchServices;
  readonly logger?: FastifyServerOptions['logger'];
  /** PEM key and certificate: the app's listener speaks HTTPS (server.tls). */
  readonly https?: { readonly key: Buffer; readonly cert: Buffer } | null;
}

export async function buildApp(opts: BuildAppOptions): Promise<FastifyInstance> {
  const logger = opts.logger ?? false;
  const app = Fastify({
    // Fastify picks an https server when this is set; null keeps plain HTTP.
    ...(opts.https ? { https: { key: opts.https.key, cert: opts.https.cert } } : {}),
    // Request lines never carry a token, even one a client put in the URL (NRDP refuses it).
    logger: typeof logger === 'object' && logger !== null && !('child' in logger) ? { ...logger, serializers: { req: logRequest, ...logger.serializers } } : logger,
    // Reject unknown body fields instead of silently dropping them (typos in commands).
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
    bodyLimit: 64 * 1024,
  });
  registerErrorHandler(app);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'hawatch server API', version: opts.services.version, description: 'Current state, history and commands of the hawatch admin-node server. Commands need Authorization: Bearer <token>.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await app.register(domain, { services: opts.services });
  await app.register(apiRoutes, { prefix: '/api/v1' });
  await app.register(passiveApiRoutes, { prefix: '/api/v1' });
  await app.register(perfdataRoutes, { prefix: '/api/v1' });
  await app.register(nrdpRoutes);
  registerMetrics(app);
  registerHaRoutes(app);

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  // Not OK while the store cannot be written: the process is up but records and sends nothing
  // the normal way, which a load balancer or a monitoring of the monitor must see.
  app.get('/healthz', { schema: { summary: 'Health: 200 when state is stored, 503 with the reason when degraded (store not writable)', tags: ['metrics'] } }, async (_req, reply) => {
    const d = opts.services.health?.degraded;
    // Several instances: also PostgreSQL reachable, the lease renewed in time, the shards held.
    const ha = opts.services.ha?.health();
    if (ha && !ha.ok && !d) {
      void reply.status(503);
      return { ok: false, error: 'LEASE', message: ha.ha.lastError ?? 'the lease was not renewed in time', ha: ha.ha };
    }
    if (!d) return ha ? { ok: true, ha: ha.ha } : { ok: true };
    void reply.status(503);
    return { ok: false, error: 'DEGRADED', message: d.message, since: d.since, ...(ha ? { ha: ha.ha } : {}) };
  });
  const page = (type: string, body: string) => async (_req: unknown, reply: { header: (k: string, v: string) => unknown }) => {
    reply.header('content-type', type);
    reply.header('cache-control', 'no-cache');
    return body;
  };
  const security = {
    'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  };
  app.addHook('onSend', async (_req, reply) => {
    for (const [k, v] of Object.entries(security)) void reply.header(k, v);
  });
  app.get('/', { schema: { hide: true } }, page('text/html; charset=utf-8', PAGE_HTML));
  app.get('/status.js', { schema: { hide: true } }, page('text/javascript; charset=utf-8', PAGE_JS));
  app.get('/status.css', { schema: { hide: true } }, page('text/css; charset=utf-8', PAGE_CSS));
  registerServiceView(app);
  registerHostClusterViews(app);
  return app;
}
