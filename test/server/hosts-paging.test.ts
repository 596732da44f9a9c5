// Issue 15 item 6: GET /api/v1/hosts in pages like /api/v1/services (limit, offset, total,
// nextOffset, the problems filter), described in the OpenAPI document the routes serve.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../server/core/runtime.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { FakeExecutors } from './helpers.ts';

const HOSTS = 23;
const hosts = Array.from({ length: HOSTS }, (_, i) => `h${String(i).padStart(2, '0')}`);
const INVENTORY = [
  'defaults: { check_interval: 1m, max_check_attempts: 1, notification_interval: 0 }',
  'hosts:',
  ...hosts.map((h, i) => `  ${h}: { address: 192.0.2.${i + 1}, passive: true, freshness: false }`),
  'services:',
  `  - { name: a, hosts: [${hosts.join(', ')}], passive: true, freshness: false }`,
  `  - { name: b, hosts: [h00, h01], passive: true, freshness: false }`,
].join('\n');

type HostsAnswer = { hosts: { name: string; services: number; status: { state: number; key: string } }[]; total: number; nextOffset: number | null };

describe('GET /api/v1/hosts paged', () => {
  let rt: Runtime;
  const get = async (url: string) => {
    const r = await rt.app.inject({ url });
    return { status: r.statusCode, body: r.json() };
  };

  beforeAll(async () => {
    rt = await createRuntime({ inventory: loadInventory(INVENTORY), executorFactory: new FakeExecutors().factory, database: ':memory:', autoStart: false });
    // Every fifth host DOWN (a host check's CRITICAL), the others UP.
    hosts.forEach((h, i) => rt.monitor.submitResult(h, { state: i % 5 === 3 ? 2 : 0, output: i % 5 === 3 ? 'DOWN' : 'UP', longOutput: '', perfdataText: '', executedAt: Date.now(), durationMs: 1 }));
  });
  afterAll(async () => {
    await rt?.stop();
  });

  it('without limit answers every host, with total and no next page (the old answer plus two fields)', async () => {
    const r = await get('/api/v1/hosts');
    expect(r.status).toBe(200);
    const b = r.body as HostsAnswer;
    expect(b.hosts.map((x) => x.name)).toEqual(hosts);
    expect(b.total).toBe(HOSTS);
    expect(b.nextOffset).toBeNull();
    expect(b.hosts[0]).toMatchObject({ name: 'h00', services: 2, status: { key: 'h00' } });
    expect(b.hosts[2]).toMatchObject({ services: 1 });
  });

  it('walks page by page: every host once, in inventory order, nextOffset null after the last', async () => {
    const seen: string[] = [];
    let offset: number | null = 0;
    let pages = 0;
    while (offset !== null) {
      const r = await get(`/api/v1/hosts?limit=5&offset=${offset}`);
      expect(r.status).toBe(200);
      const b = r.body as HostsAnswer;
      expect(b.total).toBe(HOSTS);
      expect(b.hosts.length).toBeLessThanOrEqual(5);
      seen.push(...b.hosts.map((x) => x.name));
      offset = b.nextOffset;
      pages++;
    }
    expect(pages).toBe(5);
    expect(seen).toEqual(hosts);
    // Past the end: an empty page, not an error.
    expect((await get('/api/v1/hosts?limit=5&offset=100')).body).toEqual({ hosts: [], total: HOSTS, nextOffset: null });
  });

  it('filters problems like /services, and the paging counts the filtered list', async () => {
    const down = hosts.filter((_, i) => i % 5 === 3);
    const all = (await get('/api/v1/hosts?problems=true')).body as HostsAnswer;
    expect(all.hosts.map((x) => x.name)).toEqual(down);
    expect(all.total).toBe(down.length);
    const first = (await get('/api/v1/hosts?problems=true&limit=2')).body as HostsAnswer;
    expect(first).toMatchObject({ total: down.length, nextOffset: 2 });
    expect(first.hosts.map((x) => x.name)).toEqual(down.slice(0, 2));
  });

  it('refuses a bad limit or offset with one line, as /services does', async () => {
    for (const q of ['limit=0', 'limit=5001', 'offset=-1', 'limit=x']) {
      const r = await get(`/api/v1/hosts?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.error).toBe('BAD_REQUEST');
      expect(r.body.message).not.toContain('\n');
      expect((await get(`/api/v1/services?${q}`)).status, q).toBe(400);
    }
  });

  it('the status counts of a page walk follow a state change between two pages (they are cached between status events)', async () => {
    const before = (await get('/api/v1/status?limit=5')).body;
    expect(before.summary.hosts.DOWN).toBe(4);
    rt.monitor.submitResult('h00', { state: 2, output: 'DOWN', longOutput: '', perfdataText: '', executedAt: Date.now(), durationMs: 1 });
    expect((await get('/api/v1/status?limit=5&offset=5')).body.summary.hosts.DOWN).toBe(5);
    rt.monitor.submitResult('h00', { state: 0, output: 'UP', longOutput: '', perfdataText: '', executedAt: Date.now(), durationMs: 1 });
    expect((await get('/api/v1/status?limit=5&offset=10')).body.summary.hosts.DOWN).toBe(4);
  });

  it('is described in the OpenAPI document: the same paging parameters and answer fields as /services', async () => {
    const doc = (await get('/openapi.json')).body;
    const op = (path: string) => doc.paths[path].get;
    const params = (path: string) => (op(path).parameters as { name: string; in: string }[]).filter((p) => p.in === 'query').map((p) => p.name).sort();
    expect(params('/api/v1/hosts')).toEqual(['limit', 'offset', 'problems']);
    expect(params('/api/v1/services')).toEqual(expect.arrayContaining(['limit', 'offset', 'problems']));
    const answer = (path: string) => op(path).responses['200'].content['application/json'].schema.properties;
    expect(Object.keys(answer('/api/v1/hosts')).sort()).toEqual(['hosts', 'nextOffset', 'total']);
    expect(answer('/api/v1/hosts').total).toEqual(answer('/api/v1/services').total);
    expect(answer('/api/v1/hosts').nextOffset).toEqual(answer('/api/v1/services').nextOffset);
  });
});
