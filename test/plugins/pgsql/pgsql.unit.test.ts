import { describe, expect, it } from 'vitest';
import { parseRange } from '../../../nagios/range.ts';
import { effectiveState, render } from '../../../nagios/result.ts';
import { State } from '../../../nagios/states.ts';
import { runPlugin } from '../../../nagios/plugin.ts';
import { classifyError, parseTarget, sslOptions } from '../../../plugins/pgsql/collect.ts';
import { DEFAULT_LAG_THRESHOLDS, evaluate, formatBytes, type PgsqlPolicy } from '../../../plugins/pgsql/evaluate.ts';
import descriptor from '../../../plugins/pgsql/index.ts';
import { lsnDiff, parseCapture, parseHost, parseLsn, type HostCapture } from '../../../plugins/pgsql/parse.ts';
import { perfValue } from '../../support/bin.ts';
import { parsePerfdata } from '../../../nagios/perfdata.ts';

const perfItems = (perf: string): [string, number | 'U'][] => parsePerfdata(perf).items.map((i) => [i.label, i.value]);
import { fixturePath, readFixture } from '../../support/paths.ts';

const fixture = (name: string): string => readFixture('pgsql', name);

function policy(over: Partial<PgsqlPolicy> = {}): PgsqlPolicy {
  return {
    role: 'auto',
    expectedStandbys: [],
    minStandbys: 1,
    expectSync: false,
    lagUnit: 'bytes',
    thresholds: { warning: parseRange(DEFAULT_LAG_THRESHOLDS.bytes.warning), critical: parseRange(DEFAULT_LAG_THRESHOLDS.bytes.critical) },
    multiHost: false,
    ...over,
  };
}

const primaryServer = { in_recovery: 'f', server_version_num: '150018', now: '1000.5', current_lsn: '0/5000000', receive_lsn: null, replay_lsn: null, last_replay_time: null, replay_paused: null };
const standbyServer = { in_recovery: 't', server_version_num: '150018', now: '2000', current_lsn: null, receive_lsn: '0/5000000', replay_lsn: '0/5000000', last_replay_time: '1000', replay_paused: 'f' };
const repRow = (over: Record<string, string | null> = {}) => ({
  application_name: 'node2', client_addr: '10.0.0.2', state: 'streaming', sent_lsn: '0/5000000', write_lsn: '0/5000000', flush_lsn: '0/5000000', replay_lsn: '0/5000000',
  write_lag: null, flush_lag: null, replay_lag: null, sync_priority: '0', sync_state: 'async', ...over,
});
const walRow = { status: 'streaming', sender_host: '10.0.0.1', sender_port: '5432', slot_name: null, latest_end_lsn: '0/5000000', last_msg_receipt_time: '1999' };

function run(hosts: HostCapture[], over: Partial<PgsqlPolicy> = {}) {
  const result = evaluate(hosts.map(parseHost), policy({ multiHost: hosts.length > 1, ...over }));
  const r = render(result, { prefix: 'PGSQL' });
  const first = r.text.split('\n')[0]!;
  return { state: effectiveState(result), text: r.text, perf: first.slice(first.indexOf('|') + 1) };
}

describe('LSN arithmetic', () => {
  it('reads hi/lo hex and treats 0/0 and NULL as "no position"', () => {
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) + 0xb374d848n);
    expect(parseLsn('0/0')).toBeUndefined();
    expect(parseLsn(null)).toBeUndefined();
    expect(parseLsn('garbage')).toBeUndefined();
    expect(lsnDiff(parseLsn('1/0'), parseLsn('0/FFFFFFFF'))).toBe(1);
    expect(lsnDiff(parseLsn('0/10'), parseLsn('0/20'))).toBe(0);
    expect(lsnDiff(parseLsn('0/10'), undefined)).toBeUndefined();
  });
});

describe('primary side', () => {
  it('a healthy streaming standby is OK with 0 B and 0 s lag (NULL replay_lag with nothing pending)', () => {
    const r = run([{ host: 'db1', server: primaryServer, replication: [repRow()], walReceiver: [] }]);
    expect(r.state).toBe(State.OK);
    expect(perfValue(r.perf, 'node2_lag_bytes')).toBe(0);
    expect(perfValue(r.perf, 'node2_lag_seconds')).toBe(0);
    expect(perfValue(r.perf, 'standbys')).toBe(1);
  });

  it('judges byte lag against -w/-c and prints the evaluated thresholds', () => {
    const rows = [repRow({ replay_lsn: '0/4000000', replay_lag: '12.5' })];
    const host = { host: 'db1', server: primaryServer, replication: rows, walReceiver: [] };
    expect(run([host]).state).toBe(State.OK); // 16 MiB exactly is not above 16 MiB
    const w = run([host], { thresholds: { warning: parseRange('1000'), critical: parseRange('100000000') } });
    expect(w.state).toBe(State.WARNING);
    expect(w.perf).toContain('node2_lag_bytes=16777216B;1000;100000000;0');
    const c = run([host], { lagUnit: 'seconds', thresholds: { warning: parseRange('5'), critical: parseRange('10') } });
    expect(c.state).toBe(State.CRITICAL);
    expect(c.perf).toContain('node2_lag_seconds=12.5s;5;10;0');
  });

  it('a standby still in startup (NULL LSNs) is WARNING without a false lag', () => {
    const rows = [repRow({ state: 'startup', sent_lsn: null, write_lsn: null, flush_lsn: null, replay_lsn: null })];
    const r = run([{ host: 'db1', server: primaryServer, replication: rows, walReceiver: [] }], { thresholds: { warning: parseRange('0'), critical: parseRange('0') } });
    expect(r.state).toBe(State.CRITICAL); // 0 streaming < min 1
    expect(r.text).toContain('not streaming yet');
    // Unknown: left out of the perfdata (Icinga 2.13 rejects U).
    expect(perfValue(r.perf, 'node2_lag_bytes')).toBeUndefined();
    const relaxed = run([{ host: 'db1', server: primaryServer, replication: rows, walReceiver: [] }], { minStandbys: 0, thresholds: { warning: parseRange('0'), critical: parseRange('0') } });
    expect(relaxed.state).toBe(State.WARNING);
  });

  it('a missing --standby is CRITICAL and a pg_basebackup sender is not a standby', () => {
    const rows = [repRow({ application_name: 'pg_basebackup', state: 'backup' }), repRow({ application_name: 'node3' })];
    const r = run([{ host: 'db1', server: primaryServer, replication: rows, walReceiver: [] }], { expectedStandbys: ['node2', 'node3'], minStandbys: 2 });
    expect(r.state).toBe(State.CRITICAL);
    expect(r.text).toMatch(/standby node2: not connected/);
    expect(r.text).not.toContain('pg_basebackup');
    expect(perfValue(r.perf, 'standbys')).toBe(1);
  });

  it('--expect-sync needs a sync or quorum standby', () => {
    const host = (s: string) => ({ host: 'db1', server: primaryServer, replication: [repRow({ sync_state: s })], walReceiver: [] });
    expect(run([host('async')], { expectSync: true }).state).toBe(State.CRITICAL);
    expect(run([host('sync')], { expectSync: true }).state).toBe(State.OK);
    expect(run([host('quorum')], { expectSync: true }).state).toBe(State.OK);
  });

  it('hidden pg_stat_replication columns (no pg_monitor) are UNKNOWN with the GRANT to do', () => {
    const r = run(parseCapture(fixture('cluster-no-pg_monitor.json')).hosts.slice());
    expect(r.state).toBe(State.UNKNOWN);
    expect(r.text).toContain('grant it the pg_monitor role');
  });
});

describe('standby side', () => {
  it('idle primary: receive == replay gives a delay of 0, however old the last replayed commit', () => {
    const r = run([{ host: 'db2', server: { ...standbyServer, now: '999999' }, replication: [], walReceiver: [walRow] }], { lagUnit: 'seconds', thresholds: { warning: parseRange('1'), critical: parseRange('2') } });
    expect(r.state).toBe(State.OK);
    expect(perfValue(r.perf, 'replay_delay_seconds')).toBe(0);
  });

  it('pending WAL: delay is now - last replayed commit, bytes are receive - replay', () => {
    const server = { ...standbyServer, replay_lsn: '0/4FFF000', now: '1040', last_replay_time: '1000', replay_paused: 't' };
    const r = run([{ host: 'db2', server, replication: [], walReceiver: [walRow] }], { lagUnit: 'seconds', thresholds: { warning: parseRange('30'), critical: parseRange('300') } });
    expect(r.state).toBe(State.WARNING);
    expect(perfValue(r.perf, 'replay_delay_seconds')).toBe(40);
    expect(perfValue(r.perf, 'replay_lag_bytes')).toBe(4096);
    expect(r.text).toContain('replay paused');
  });

  it('startup: no receive LSN (or 0/0) is not a lag', () => {
    for (const receive of [null, '0/0']) {
      const server = { ...standbyServer, receive_lsn: receive, replay_lsn: '0/3000000', last_replay_time: null };
      const r = run([{ host: 'db2', server, replication: [], walReceiver: [{ ...walRow, status: 'waiting' }] }], { thresholds: { warning: parseRange('0'), critical: parseRange('0') } });
      expect(r.state).toBe(State.WARNING); // the receiver is waiting, not the lag
      expect(perfValue(r.perf, 'replay_lag_bytes')).toBeUndefined();
    }
  });

  it('no WAL receiver at all is CRITICAL', () => {
    const r = run([{ host: 'db2', server: standbyServer, replication: [], walReceiver: [] }]);
    expect(r.state).toBe(State.CRITICAL);
    expect(r.text).toContain('not connected to a primary');
  });

  it('--role mismatch is CRITICAL', () => {
    expect(run([{ host: 'db2', server: standbyServer, replication: [], walReceiver: [walRow] }], { role: 'primary' }).state).toBe(State.CRITICAL);
    expect(run([{ host: 'db2', server: standbyServer, replication: [], walReceiver: [walRow] }], { role: 'standby' }).state).toBe(State.OK);
  });
});

describe('several hosts', () => {
  const p = { host: 'db1', server: primaryServer, replication: [repRow()], walReceiver: [] };
  const s = { host: 'db2', server: standbyServer, replication: [], walReceiver: [walRow] };

  it('one primary and its standby is OK', () => {
    const r = run([p, s]);
    expect(r.state).toBe(State.OK);
    expect(r.text.split('\n')[0]).toContain('one primary (db1)');
    expect(perfValue(r.perf, 'db2_replay_lag_bytes')).toBe(0);
  });

  it('two primaries are a split brain (real capture after pg_promote)', () => {
    const r = run(parseCapture(fixture('cluster-split-brain.json')).hosts.slice(), { minStandbys: 0 });
    expect(r.state).toBe(State.CRITICAL);
    expect(r.text.split('\n')[0]).toMatch(/split brain: 2 primaries/);
  });

  it('no primary is CRITICAL; an unreachable host is CRITICAL, refused credentials UNKNOWN', () => {
    expect(run([s, { ...s, host: 'db3' }], { minStandbys: 0 }).text).toMatch(/no primary/);
    const down = run([p, { host: 'db2', error: { kind: 'down', message: 'connection refused' } }]);
    expect(down.state).toBe(State.CRITICAL);
    expect(run([{ host: 'db2', error: { kind: 'auth', message: 'authentication failed' } }]).state).toBe(State.UNKNOWN);
    expect(run([{ host: 'db2', error: { kind: 'timeout', message: 'no answer' } }]).state).toBe(State.CRITICAL);
  });
});

describe('roles in perfdata (what a cluster rule sums)', () => {
  const p = { host: 'db1', server: primaryServer, replication: [repRow()], walReceiver: [] };
  const s = { host: 'db2', server: standbyServer, replication: [], walReceiver: [walRow] };
  const roles = (perf: string) => Object.fromEntries(perfItems(perf).filter(([l]) => l.endsWith('_primary')));

  it('<host>_primary is 1 on a primary, 0 on a standby, also for a single host', () => {
    expect(roles(run([p]).perf)).toEqual({ db1_primary: 1 });
    expect(roles(run([s]).perf)).toEqual({ db2_primary: 0 });
    expect(roles(run([p, s]).perf)).toEqual({ db1_primary: 1, db2_primary: 0 });
  });

  it('split brain (real capture after pg_promote): both hosts say 1, labels from -H made label-safe', () => {
    const r = run(parseCapture(fixture('cluster-split-brain.json')).hosts.slice(), { minStandbys: 0 });
    expect(roles(r.perf)).toEqual({ '127.0.0.1_33755_primary': 1, '127.0.0.1_39103_primary': 1 });
  });

  it('an unreachable host is left out (its role is unknown), the others stay', () => {
    expect(roles(run([p, { host: 'db2', error: { kind: 'down', message: 'connection refused' } }]).perf)).toEqual({ db1_primary: 1 });
  });

  it('a --role mismatch (CRITICAL) keeps the role item first', () => {
    const r = run([s], { role: 'primary' });
    expect(r.state).toBe(State.CRITICAL);
    expect(r.perf.trim().startsWith('db2_primary=0;;;0;1')).toBe(true);
  });

  it('a socket directory host gives a valid label', () => {
    expect(roles(run([{ ...p, host: '/var/run/postgresql' }]).perf)).toEqual({ var_run_postgresql_primary: 1 });
  });
});

describe('inputs and helpers', () => {
  it('parses -H forms', () => {
    expect(parseTarget('db1', 5432)).toMatchObject({ host: 'db1', port: 5432 });
    expect(parseTarget('db1:5433', 5432)).toMatchObject({ host: 'db1', port: 5433 });
    expect(parseTarget('[::1]:5433', 5432)).toMatchObject({ host: '::1', port: 5433 });
    expect(parseTarget('::1', 5432)).toMatchObject({ host: '::1', port: 5432 });
    expect(parseTarget('/var/run/postgresql', 5433)).toMatchObject({ host: '/var/run/postgresql', port: 5433 });
    expect(() => parseTarget('db1:99999', 5432)).toThrow(/invalid host/);
  });

  it('classifies driver errors', () => {
    expect(classifyError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }), 1000).kind).toBe('down');
    expect(classifyError(Object.assign(new Error('password authentication failed for user "x"'), { code: '28P01' }), 1000).kind).toBe('auth');
    expect(classifyError(new Error('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a non-empty string'), 1000).message).toMatch(/PGPASSWORD/);
    expect(classifyError(new Error('Connection terminated due to connection timeout'), 2700).message).toBe('no answer within 2.7 s (server hung or overloaded?)');
  });

  it('maps --sslmode to verification settings', async () => {
    const base = { database: 'postgres', defaultPort: 5432, sslMode: 'disable' as const };
    expect(await sslOptions(base, 'db1')).toBe(false);
    expect(await sslOptions({ ...base, sslMode: 'require' }, 'db1')).toEqual({ rejectUnauthorized: false });
    expect(await sslOptions({ ...base, sslMode: 'verify-full' }, 'db1')).toMatchObject({ rejectUnauthorized: true, servername: 'db1' });
    const ca = await sslOptions({ ...base, sslMode: 'verify-ca' }, 'db1');
    expect(ca && ca.checkServerIdentity?.('x', {} as never)).toBeUndefined();
  });

  it('formats bytes', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(16 * 1024 * 1024)).toBe('16 MiB');
  });

  it('rejects bad input with one clear line', async () => {
    const bad = await runPlugin(descriptor, ['--input-file', '-'], { readStdin: async () => 'not json' });
    expect(bad.exitCode).toBe(State.UNKNOWN);
    expect(bad.text).toMatch(/^PGSQL UNKNOWN - input is not JSON/);
    const unit = await runPlugin(descriptor, ['--lag-unit', 'minutes', '--input-file', fixturePath('pgsql', 'primary-healthy.json')]);
    expect(unit.text).toMatch(/invalid --lag-unit minutes: expected one of bytes, seconds/);
    const role = await runPlugin(descriptor, ['--role', 'primary', '--input-file', fixturePath('pgsql', 'cluster-split-brain.json')]);
    expect(role.text).toMatch(/--role applies to a single host/);
  });

  it('replays the fixtures through the runner', async () => {
    const paused = await runPlugin(descriptor, ['--input-file', fixturePath('pgsql', 'cluster-replay-paused.json'), '-w', '1000']);
    expect(paused.exitCode).toBe(State.WARNING);
    const healthy = await runPlugin(descriptor, ['--input-file', fixturePath('pgsql', 'standby-healthy.json'), '--role', 'standby']);
    expect(healthy.exitCode).toBe(State.OK);
  });
});
