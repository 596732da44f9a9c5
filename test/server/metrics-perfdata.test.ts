// Issue 15 item 5: /metrics for Grafana. Each object's state and each latest perfdata value
// as gauges with host, service, label and unit; bounded cardinality (per-service and total
// caps, metrics: false per service), counted when something is left out; the exposition
// parsed by Prometheus' own promtool; the shipped Grafana dashboard has the schema's
// required fields and queries only metrics the server exports.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRuntime } from '../../server/core/runtime.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { FakeClock } from '../../server/state/clock.ts';
import { runProgram } from '../support/bin.ts';
import { requireFile } from '../support/require.ts';
import { FakeExecutors } from './helpers.ts';

const inventory = (server = '') => `
server: { title: metrics test${server} }
defaults: { max_check_attempts: 1 }
hosts:
  db1: { address: 192.0.2.1, passive: true, freshness: false }
  db2: { address: 192.0.2.2, passive: true, freshness: false }
services:
  - { name: pgsql, hosts: [db1, db2], passive: true, freshness: false }
  - { name: noisy, host: db1, passive: true, freshness: false, metrics: false }
  - { name: wide, host: db2, passive: true, freshness: false }
  - { name: quiet, host: db2, passive: true, freshness: false }
`;

async function scrape(server = '') {
  const clock = new FakeClock();
  const rt = await createRuntime({ inventory: loadInventory(inventory(server)), executorFactory: new FakeExecutors().factory, database: ':memory:', clock, autoStart: false });
  const submit = (key: string, state: 0 | 1 | 2, perf: string) => rt.monitor.submitResult(key, { state, output: 'x', longOutput: '', perfdataText: perf, executedAt: clock.now(), durationMs: 1 });
  submit('db1/pgsql', 0, "lag=0.2s;5;30;0 'repl \"lag\" \\ x'=3B is_primary=1;;;0;1");
  submit('db2/pgsql', 2, 'lag=31.5s;5;30;0 is_primary=0 xact=123456c');
  submit('db1/noisy', 0, 'a=1 b=2 c=3');
  submit('db2/wide', 0, Array.from({ length: 30 }, (_, i) => `v${i}=${i}`).join(' '));
  submit('db1', 0, 'rta=0.5ms;100;500');
  const r = await rt.app.inject({ method: 'GET', url: '/metrics' });
  await rt.stop();
  expect(r.statusCode).toBe(200);
  return r.body;
}

const lines = (text: string, name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));

describe('/metrics per object', () => {
  it('exports each object state and each latest perfdata value as gauges with host, service, label and unit', async () => {
    const text = await scrape();
    expect(text).toContain('# TYPE hawatch_object_state gauge');
    expect(text).toContain('# TYPE hawatch_perfdata gauge');
    const states = lines(text, 'hawatch_object_state');
    expect(states).toEqual(expect.arrayContaining([
      'hawatch_object_state{host="db1",service="pgsql"} 0',
      'hawatch_object_state{host="db2",service="pgsql"} 2',
      'hawatch_object_state{host="db2",service="quiet"} -1',
      'hawatch_object_state{host="db1",service=""} 0',
    ]));
    expect(states).toHaveLength(2 + 5);
    const perf = lines(text, 'hawatch_perfdata');
    expect(perf).toEqual(expect.arrayContaining([
      'hawatch_perfdata{host="db1",service="pgsql",label="lag",unit="s"} 0.2',
      'hawatch_perfdata{host="db2",service="pgsql",label="lag",unit="s"} 31.5',
      'hawatch_perfdata{host="db2",service="pgsql",label="xact",unit="c"} 123456',
      'hawatch_perfdata{host="db1",service="",label="rta",unit="ms"} 0.5',
      // label values escaped as the exposition format says
      'hawatch_perfdata{host="db1",service="pgsql",label="repl \\"lag\\" \\\\ x",unit="B"} 3',
    ]));
    // metrics: false: state yes, perfdata no
    expect(states).toContain('hawatch_object_state{host="db1",service="noisy"} 0');
    expect(perf.filter((l) => l.includes('service="noisy"'))).toEqual([]);
    // at most 20 labels of one service by default; the rest counted
    expect(perf.filter((l) => l.includes('service="wide"'))).toHaveLength(20);
    expect(lines(text, 'hawatch_perfdata_series_dropped')).toEqual(['hawatch_perfdata_series_dropped 10']);
    expect(lines(text, 'hawatch_perfdata_series')).toEqual([`hawatch_perfdata_series ${perf.length}`]);
    // the server's own metrics are still there
    expect(text).toMatch(/^hawatch_problems_unhandled 1$/m);
    expect(text).toMatch(/^hawatch_process_cpu_user_seconds_total /m);
  });

  it('caps the series per service and in total as the inventory says', async () => {
    const text = await scrape(', metrics_max_labels_per_service: 2, metrics_max_series: 7');
    const perf = lines(text, 'hawatch_perfdata');
    expect(perf).toHaveLength(7);
    expect(perf.filter((l) => l.includes('service="wide"')).length).toBeLessThanOrEqual(2);
    const dropped = Number(lines(text, 'hawatch_perfdata_series_dropped')[0]!.split(' ')[1]);
    expect(dropped).toBe(3 + 3 + 1 + 30 - 7);
  });

  it('is valid text exposition for Prometheus (promtool parses it; no lint problem in the new metrics)', async () => {
    const promtool = requireFile('/usr/bin/promtool', 'prometheus');
    const text = await scrape();
    const r = await runProgram(promtool, ['check', 'metrics'], { input: text });
    // A parse error is fatal; lint findings are listed one per line (exit 3).
    expect(r.stderr + r.stdout).not.toMatch(/error while linting|parsing error/);
    const findings = (r.stdout + r.stderr).split('\n').filter((l) => l.trim() !== '');
    if (findings.length) console.log(`promtool lint findings (older metrics): ${findings.join(' / ')}`);
    expect(findings.filter((l) => /hawatch_(object_state|perfdata)/.test(l))).toEqual([]);
    // A broken exposition is refused by the same check (so the check above can fail).
    const bad = await runProgram(promtool, ['check', 'metrics'], { input: 'hawatch_perfdata{host="db1",label=unquoted} 1\n' });
    expect(bad.code).not.toBe(0);
  });
});

describe('grafana/hawatch-cluster.json', () => {
  const dash = JSON.parse(readFileSync(join(process.cwd(), 'grafana', 'hawatch-cluster.json'), 'utf8')) as Record<string, unknown> & {
    panels: { id: number; type: string; title: string; gridPos: { h: number; w: number; x: number; y: number }; targets: { expr: string; refId: string }[]; repeat?: string }[];
    templating: { list: { name: string; type: string; query?: unknown; multi?: boolean }[] };
  };

  it('has the dashboard schema fields: title, schemaVersion, templating, panels with type, gridPos and targets', () => {
    expect(typeof dash.title).toBe('string');
    expect(dash.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(Array.isArray(dash.templating.list)).toBe(true);
    expect(dash.panels.length).toBeGreaterThan(3);
    const ids = new Set<number>();
    for (const p of dash.panels) {
      expect(typeof p.type, p.title).toBe('string');
      expect(['stat', 'timeseries', 'state-timeline', 'table']).toContain(p.type);
      for (const k of ['h', 'w', 'x', 'y'] as const) expect(Number.isInteger(p.gridPos[k]), `${p.title} gridPos.${k}`).toBe(true);
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets) expect(t.refId).toMatch(/^[A-Z]$/);
      expect(ids.has(p.id)).toBe(false);
      ids.add(p.id);
    }
  });

  it('has a host and a service variable, and queries only metrics the server exports', async () => {
    const vars = Object.fromEntries(dash.templating.list.map((v) => [v.name, v]));
    expect(vars.host).toMatchObject({ type: 'query', multi: true });
    expect(vars.service).toMatchObject({ type: 'query', multi: true });
    expect(vars.datasource).toMatchObject({ type: 'datasource' });
    const text = await scrape();
    const exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    const used = new Set(dash.panels.flatMap((p) => p.targets.flatMap((t) => [...t.expr.matchAll(/\b(hawatch_[a-z_]+)/g)].map((m) => m[1]))));
    for (const name of used) expect(exported, name).toContain(name);
    // the members of a service side by side: one graph per service, a line per host
    const repeated = dash.panels.find((p) => p.repeat === 'service');
    expect(repeated?.targets[0]?.expr).toContain('service="$service"');
  });
});
