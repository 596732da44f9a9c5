// Issue 11 item 7: every time in the API is in milliseconds and says so in its name. A
// downtime's length is durationMs (the deprecated `duration` in seconds still works for old
// clients, never both); the OpenAPI document names the units.
import { afterAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../server/core/runtime.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { FakeClock } from '../../server/state/clock.ts';
import { FakeExecutors } from './helpers.ts';

const runtimes: Runtime[] = [];
afterAll(async () => {
  for (const rt of runtimes) await rt.stop();
});

async function boot(): Promise<Runtime> {
  const rt = await createRuntime({
    inventory: loadInventory('hosts:\n  web1: { address: 192.0.2.1, nrpe: {} }\nservices:\n  - { name: load, host: web1, command: check_load }\n'),
    executorFactory: new FakeExecutors().factory,
    database: ':memory:',
    clock: new FakeClock(),
    apiToken: () => 't',
    loadInventory: null,
  });
  runtimes.push(rt);
  return rt;
}

const auth = { authorization: 'Bearer t' };

describe('API units', () => {
  it('a downtime lasts durationMs milliseconds; the deprecated duration is seconds; both at once is refused', async () => {
    const rt = await boot();
    const post = (payload: Record<string, unknown>) => rt.app.inject({ method: 'POST', url: '/api/v1/downtimes', headers: auth, payload: { key: 'web1/load', author: 'a', comment: 'c', ...payload } });
    const ms = await post({ start: 1_000_000, durationMs: 90_000 });
    expect(ms.statusCode).toBe(200);
    expect(ms.json().downtimes[0]).toMatchObject({ start: 1_000_000, end: 1_090_000, durationMs: 90_000 });
    const s = await post({ start: 1_000_000, duration: 90 });
    expect(s.json().downtimes[0]).toMatchObject({ start: 1_000_000, end: 1_090_000, durationMs: 90_000 });
    const both = await post({ durationMs: 90_000, duration: 90 });
    expect(both.statusCode).toBe(400);
    expect(both.json()).toMatchObject({ error: 'BAD_REQUEST', message: 'give durationMs (milliseconds) or the deprecated duration (seconds), not both' });
    const flex = await post({ fixed: false, end: 2_000_000 });
    expect(flex.json().message).toBe('a flexible downtime needs durationMs (milliseconds it lasts once triggered)');
  });

  it('the OpenAPI document names the unit of every duration and time of the downtime body', async () => {
    const rt = await boot();
    const doc = (await rt.app.inject({ url: '/openapi.json' })).json() as { paths: Record<string, { post?: { requestBody?: { content: Record<string, { schema: { properties: Record<string, { description?: string }> } }> } } }> };
    const body = doc.paths['/api/v1/downtimes']?.post?.requestBody?.content['application/json']?.schema.properties ?? {};
    expect(body.durationMs?.description).toMatch(/^milliseconds/);
    expect(body.duration?.description).toMatch(/^deprecated: the same in seconds/);
    expect(body.start?.description).toMatch(/epoch ms/);
    expect(body.end?.description).toMatch(/epoch ms/);
  });
});
