// Issue 9 items 15 and 17: SIGHUP reloads a real server process that has no API token; a
// missing inventory on reload is a clear error; event streams are capped per client address
// and in total; an oversized body is 413.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readInventory } from '../../server/cli/cli.ts';
import { createRuntime } from '../../server/core/runtime.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { FakeClock } from '../../server/state/clock.ts';
import { freePort } from '../support/ports.ts';
import { removeDir, tempDir } from '../support/tmp.ts';
import { waitFor } from '../support/wait.ts';
import { FakeExecutors } from './helpers.ts';

const BIN = join(process.cwd(), 'dist/bin/hawatch-server.cjs');
const dir = tempDir('hawatch-control-');
const children = new Set<ChildProcess>();
beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run npm run build first (npm test does)`);
});
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  removeDir(dir);
});

const inventory = (services: string[]) => `
server: { database: state.db }
defaults: { check_interval: 1h }
hosts:
  admin: { local: true }
services:
${services.map((s) => `  - { name: ${s}, host: admin, command: /bin/true }`).join('\n')}
`;

describe('SIGHUP', () => {
  it('reloads a server that has no API token, and a missing file is a clear error, nothing changed', async () => {
    const inv = join(dir, 'inventory.yaml');
    writeFileSync(inv, inventory(['one']));
    const port = await freePort();
    const env = { ...process.env };
    delete env.HAWATCH_API_TOKEN;
    const child = spawn(process.execPath, [BIN, '--config', inv, '--listen', `127.0.0.1:${port}`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    const log: string[] = [];
    child.stdout?.on('data', (d: Buffer) => log.push(d.toString()));
    child.stderr?.on('data', (d: Buffer) => log.push(d.toString()));
    const alive = () => (child.exitCode !== null ? `hawatch-server exited: ${log.join('')}` : undefined);
    const services = async () => ((await (await fetch(`http://127.0.0.1:${port}/api/v1/services`)).json()) as { services: { key: string }[] }).services.map((s) => s.key).sort();
    await waitFor('the server', async () => (await services()).length === 1, 15_000, { stopWhen: alive });
    expect(log.join('')).toContain('warning: no API token');

    writeFileSync(inv, inventory(['one', 'two']));
    child.kill('SIGHUP');
    await waitFor('the reloaded inventory', async () => (await services()).join() === 'admin/one,admin/two', 10_000, { stopWhen: alive });
    expect(log.join('')).not.toContain('UNAUTHORIZED');
    expect(log.join('')).toContain('inventory reloaded: 1 hosts, 2 services');

    rmSync(inv);
    child.kill('SIGHUP');
    await waitFor('the reload error in the log', () => log.join('').includes(`SIGHUP: reload failed, nothing changed: cannot read the inventory ${inv} (no such file): put the file back or fix the path`), 10_000, { stopWhen: alive });
    expect(await services()).toEqual(['admin/one', 'admin/two']);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }, 40_000);
});

describe('HTTP limits', () => {
  const boot = async (server: string, loadFile?: string) => {
    const text = `server: { ${server} }\nhosts:\n  admin: { local: true }\nservices:\n  - { name: one, host: admin, command: /bin/true }\n`;
    return createRuntime({
      inventory: loadInventory(text),
      executorFactory: new FakeExecutors().factory,
      database: ':memory:',
      clock: new FakeClock(),
      apiToken: () => 't',
      loadInventory: loadFile ? () => readInventory(loadFile) : null,
    });
  };

  it('a reload of a missing inventory answers 422 with the file named, not INTERNAL', async () => {
    const rt = await boot('title: x', join(dir, 'gone.yaml'));
    const r = await rt.app.inject({ method: 'POST', url: '/api/v1/reload', headers: { authorization: 'Bearer t' } });
    expect(r.statusCode).toBe(422);
    expect(r.json()).toMatchObject({ error: 'INVENTORY_INVALID', message: `cannot read the inventory ${join(dir, 'gone.yaml')} (no such file): put the file back or fix the path` });
    await rt.stop();
  });

  it('a 10 MB body answers 413', async () => {
    const rt = await boot('title: x');
    const r = await rt.app.inject({ method: 'POST', url: '/api/v1/acknowledge', headers: { authorization: 'Bearer t', 'content-type': 'application/json' }, payload: `{"key": "${'x'.repeat(10 * 1024 * 1024)}"}` });
    expect(r.statusCode).toBe(413);
    expect(r.json()).toEqual({ error: 'PAYLOAD_TOO_LARGE', message: 'the request body is larger than 64 KiB: commands are small JSON objects' });
    await rt.stop();
  });

  it('event streams are capped per client address (429) and in total (503)', async () => {
    const rt = await boot('sse_max_per_source: 2, sse_max_total: 3');
    await rt.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (rt.app.server.address() as { port: number }).port;
    const open: ClientRequest[] = [];
    const stream = (from: string) =>
      new Promise<IncomingMessage>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/api/v1/events', localAddress: from }, resolve);
        req.on('error', reject);
        req.end();
        open.push(req);
      });
    const body = (res: IncomingMessage) => new Promise<string>((r) => {
      let s = '';
      res.on('data', (d: Buffer) => (s += d.toString()));
      res.on('end', () => r(s));
    });
    try {
      expect((await stream('127.0.0.1')).statusCode).toBe(200);
      expect((await stream('127.0.0.1')).statusCode).toBe(200);
      const third = await stream('127.0.0.1');
      expect(third.statusCode).toBe(429);
      expect(JSON.parse(await body(third))).toMatchObject({ error: 'TOO_MANY_REQUESTS', message: '2 event streams are open from 127.0.0.1, the limit is 2 (server.sse_max_per_source): close some pages' });
      expect((await stream('127.0.0.2')).statusCode).toBe(200);
      const full = await stream('127.0.0.3');
      expect(full.statusCode).toBe(503);
      expect(JSON.parse(await body(full)).message).toBe('3 event streams are open, the limit is 3 (server.sse_max_total): try again later or poll /api/v1/status');
      // A closed stream frees its slot.
      open[0]?.destroy();
      await waitFor('a free slot', async () => {
        const res = await stream('127.0.0.3');
        return res.statusCode === 200;
      }, 5000);
    } finally {
      for (const r of open) r.destroy();
      await rt.stop();
    }
  });
});
