/**
 * GET /api/v1/objects/:key/perfdata: an object's stored perfdata series over a time range.
 * The key is one path segment: host/service is written host%2Fservice.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ApiError } from './errors.ts';
import { ErrorBody } from './schemas.ts';
import { DAY, STEP_MS, consolidate, pickResolution, type PerfResolution } from '../store/perfdata.ts';

const NullableString = () => Type.Unsafe<string | null>({ type: ['string', 'null'] });
const NullableNumber = () => Type.Unsafe<number | null>({ type: ['number', 'null'] });

export const PerfSeriesView = Type.Object({
  label: Type.String(),
  unit: Type.String({ description: 'the perfdata unit as given (s, %, B, c, ...)' }),
  rate: Type.Boolean({ description: 'true for counters (unit c): the points are rates per second' }),
  warn: NullableString(),
  crit: NullableString(),
  min: NullableNumber(),
  max: NullableNumber(),
  thresholds: Type.Array(Type.Object({ at: Type.Number(), warn: NullableString(), crit: NullableString() }), { description: 'thresholds in force at from, and each change up to to' }),
  points: Type.Array(Type.Array(Type.Number()), { description: '[at, avg, min, max] each; raw points have avg = min = max' }),
});

export const PerfdataAnswer = Type.Object({
  key: Type.String(),
  from: Type.Number(),
  to: Type.Number(),
  resolution: Type.Unsafe<PerfResolution>({ type: 'string', enum: ['raw', 'minute', 'hour'] }),
  stepMs: Type.Integer({ description: 'ms between points: 0 for raw, 60000 minute, 3600000 hour, or the wider bucket maxPoints asked for' }),
  series: Type.Array(PerfSeriesView),
});

export async function perfdataRoutes(app0: FastifyInstance): Promise<void> {
  const app = app0.withTypeProvider<TypeBoxTypeProvider>();
  const h = app.hawatch;
  app.get('/objects/:key/perfdata', {
    schema: {
      summary: 'Stored perfdata of one object over a range (raw up to 6 h, 1-minute up to 8 days, 1-hour beyond, unless step says)',
      tags: ['state'],
      params: Type.Object({ key: Type.String({ minLength: 1, description: 'host or host%2Fservice' }) }),
      querystring: Type.Object({
        label: Type.Optional(Type.String({ minLength: 1, description: 'one series; default all of the object' })),
        from: Type.Optional(Type.Integer({ minimum: 0, description: 'epoch ms; default to minus one day' })),
        to: Type.Optional(Type.Integer({ minimum: 0, description: 'epoch ms; default now' })),
        step: Type.Unsafe<'auto' | PerfResolution>({ type: 'string', enum: ['auto', 'raw', 'minute', 'hour'], default: 'auto', description: 'resolution; auto picks by range' }),
        maxPoints: Type.Optional(Type.Integer({ minimum: 10, maximum: 10_000, description: 'at most this many points per series: wider buckets (avg weighted by count, min of mins, max of maxes), as a graph of that many pixels needs' })),
      }),
      response: { 200: PerfdataAnswer, 400: ErrorBody, 404: ErrorBody },
    },
  }, async (req) => {
    const key = req.params.key;
    if (!h.monitor.object(key)) throw new ApiError('NOT_FOUND', `no host or service ${key} in the inventory (write host/service as host%2Fservice in the path)`);
    const now = h.clock.now();
    const to = req.query.to ?? now;
    const from = req.query.from ?? to - DAY;
    if (from >= to) throw new ApiError('BAD_REQUEST', `from (${from}) must be before to (${to}): both are epoch milliseconds`);
    if (to - from > 400 * DAY) throw new ApiError('BAD_REQUEST', `the range is ${Math.round((to - from) / DAY)} days, at most 400 are kept: narrow from and to`);
    const resolution = req.query.step === undefined || req.query.step === 'auto' ? pickResolution(from, to, now) : req.query.step;
    const store = h.store.perfdata;
    const labels = req.query.label !== undefined ? [req.query.label] : (await store.series(key)).map((s) => s.label);
    const series = [];
    let stepMs = STEP_MS[resolution];
    for (const label of labels) {
      const q = await store.query(key, label, from, to, resolution);
      if (!q) {
        const known = (await store.series(key)).map((s) => s.label);
        throw new ApiError('NOT_FOUND', `${key} has no perfdata series ${label}: ${known.length ? `known labels are ${known.join(', ')}` : 'none stored yet'}`);
      }
      const c = req.query.maxPoints !== undefined ? consolidate(q.points, from, to, req.query.maxPoints, STEP_MS[resolution]) : { points: q.points, stepMs: STEP_MS[resolution] };
      stepMs = Math.max(stepMs, c.stepMs);
      series.push({
        label,
        unit: q.series.unit,
        rate: q.series.unit === 'c',
        warn: q.series.warn,
        crit: q.series.crit,
        min: q.series.min,
        max: q.series.max,
        thresholds: q.thresholds,
        points: c.points.map((p) => [p.at, p.avg, p.min, p.max]),
      });
    }
    return { key, from, to, resolution, stepMs, series };
  });
}
