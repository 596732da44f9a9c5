/**
 * check_ha_galera without servers: captures from the real cluster of cluster.test.ts
 * (JSON), the mariadb client's tab-separated and boxed text, and the rules.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runPlugin } from '../../../nagios/plugin.ts';
import galera from '../../../plugins/galera/index.ts';
import { parseStatusText } from '../../../plugins/galera/parse.ts';
import { parsePerfdata } from '../../../nagios/perfdata.ts';
import { fixturePath } from '../../support/paths.ts';

const fixture = (name: string): string => fixturePath('galera', name);
const run = (args: string[], stdin?: string) => runPlugin(galera, args, { env: {}, readStdin: async () => stdin ?? '' });

describe('check_ha_galera --input-file', () => {
  it('real captures: healthy, desynced, node lost, non-Primary', async () => {
    const ok = await run(['--input-file', fixture('galera-3-nodes-healthy.json')]);
    expect(ok.exitCode).toBe(0);
    expect(ok.text).toMatch(/^GALERA OK - Primary, Synced, cluster size 3 \|/);
    const desync = await run(['--input-file', fixture('galera-node-desynced.json')]);
    expect(desync.exitCode).toBe(1);
    expect(desync.text).toContain('Donor/Desynced');
    const lost = await run(['--input-file', fixture('galera-node-lost.json')]);
    expect(lost.text).toMatch(/^GALERA WARNING - node n1: cluster size 2 \(below 3\)/);
    const crit = await run(['--input-file', fixture('galera-node-lost.json'), '-w', '4:', '-c', '3:']);
    expect(crit.exitCode).toBe(2);
    expect(crit.text).toMatch(/cluster size 2 \(below 3\)/);
    const np = await run(['--input-file', fixture('galera-non-primary.json')]);
    expect(np.exitCode).toBe(2);
    expect(np.text).toMatch(/cluster status non-Primary/);
  });

  it('the mariadb client text: -N tab-separated, with header, boxed', async () => {
    const tsv = await run(['--input-file', fixture('galera-non-primary-mariadb-N.tsv')]);
    expect(tsv.exitCode).toBe(2);
    expect(tsv.text).toMatch(/^GALERA CRITICAL - node input: cluster status non-Primary.*wsrep_ready=OFF.*Initialized: not part of a working cluster/);
    const none = await run(['--input-file', fixture('mariadb-10.11-no-galera.tsv')]);
    expect(none.text.split('\n')[0]).toBe('GALERA CRITICAL - node input: Galera is not active: no Galera provider loaded (wsrep_provider_name is empty) | input_primary_component=0;;;0;1 input_synced=0;;;0;1');
    const boxed = [
      '+----------------------------+---------+', '| Variable_name              | Value   |', '+----------------------------+---------+',
      '| wsrep_cluster_size         | 3       |', '| wsrep_cluster_status       | Primary |', '| wsrep_connected            | ON      |',
      '| wsrep_flow_control_paused  | 0.42    |', '| wsrep_local_state          | 3       |', '| wsrep_local_state_comment  | Joined  |',
      '| wsrep_provider_name        | Galera  |', '| wsrep_ready                | ON      |', '+----------------------------+---------+',
    ].join('\n');
    const j = await run(['--input-file', '-', '--fc-warning', '0.1', '--fc-critical', '0.5'], boxed);
    expect(j.exitCode).toBe(1);
    expect(j.text).toMatch(/^GALERA WARNING - node input: Joined: catching up with the cluster, flow control paused 42% of the time \(above 0.1\)/);
    expect(j.text).toContain('flow_control_paused=0.42;0.1;0.5;0;1');
    const fc = await run(['--input-file', '-', '--fc-critical', '0.4'], boxed);
    expect(fc.exitCode).toBe(2);
  });

  it('JSON rows and objects; bad input is one clear UNKNOWN line', async () => {
    const rows = JSON.stringify([{ Variable_name: 'wsrep_cluster_size', Value: '1' }, { Variable_name: 'wsrep_cluster_status', Value: 'Primary' }, { Variable_name: 'wsrep_local_state', Value: '4' }, { Variable_name: 'wsrep_provider_name', Value: 'Galera' }, { Variable_name: 'wsrep_ready', Value: 'ON' }, { Variable_name: 'wsrep_connected', Value: 'ON' }]);
    const r = await run(['--input-file', '-'], rows);
    expect(r.exitCode).toBe(2);
    expect(r.text).toMatch(/^GALERA CRITICAL - node input: cluster size 1 \(below 2\)/);
    expect((await run(['--input-file', '-'], '{"a": 1}')).text).toMatch(/^GALERA UNKNOWN - input file has no wsrep_\* values/);
    expect((await run(['--input-file', '-'], '{"nodes": [3]}')).text).toBe('GALERA UNKNOWN - input file: nodes[0] has no target name\n');
    expect((await run(['--input-file', '-'], 'hello world')).text).toMatch(/^GALERA UNKNOWN - input file has no wsrep_\* values/);
    expect((await run(['--fc-warning', 'x'])).text).toMatch(/^GALERA UNKNOWN - invalid threshold range x/);
  });

  it('parses tab-separated lines with empty values', () => {
    const s = parseStatusText(readFileSync(fixture('mariadb-10.11-no-galera.tsv'), 'utf8'));
    expect(s.wsrep_provider_name).toBe('');
    expect(s.wsrep_cluster_status).toBe('Disconnected');
  });
});

describe('roles in perfdata (what a cluster rule sums)', () => {
  /** The role items of a run's first line, label -> value. */
  const roles = (text: string) => Object.fromEntries(parsePerfdata(text.split('\n')[0]!.split('|')[1] ?? '').items.filter((p) => /_(primary_component|synced)$/.test(p.label)).map((p) => [p.label, p.value]));

  it('healthy node: in the Primary component and Synced', async () => {
    expect(roles((await run(['--input-file', fixture('galera-3-nodes-healthy.json')])).text)).toEqual({ n1_primary_component: 1, n1_synced: 1 });
  });

  it('desynced node: still in the Primary component, not Synced', async () => {
    expect(roles((await run(['--input-file', fixture('galera-node-desynced.json')])).text)).toEqual({ n2_primary_component: 1, n2_synced: 0 });
  });

  it('survivor without quorum: not in a Primary component', async () => {
    const r = roles((await run(['--input-file', fixture('galera-non-primary.json')])).text);
    expect(r.n1_primary_component).toBe(0);
    expect((await run(['--input-file', fixture('galera-non-primary-mariadb-N.tsv')])).text).toContain('input_primary_component=0;;;0;1');
  });
});
