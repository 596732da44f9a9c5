/**
 * check_ha_mysql without servers: captured rows (--input-file) from MariaDB 10.11 (real
 * captures from the integration test), MySQL 8.4 and 5.7 (real-format captures), the pure
 * parsers and the hazard rules.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runPlugin } from '../../../nagios/plugin.ts';
import mysql from '../../../plugins/mysql/index.ts';
import { autoIncrementCollides, evaluate, rolePerfdata } from '../../../plugins/mysql/evaluate.ts';
import { optionsFor, parseOptionFile } from '../../../plugins/mysql/option-file.ts';
import { binlogStatusStatement, legacyColumnName, parseCapture, replicaStatusStatement, versionNumbers, type ServerUp } from '../../../plugins/mysql/parse.ts';
import { parseTarget } from '../../../plugins/mysql/target.ts';
import { loadCredentials } from '../../../plugins/mysql/connection.ts';
import { effectiveState } from '../../../nagios/result.ts';
import { parsePerfdata } from '../../../nagios/perfdata.ts';
import { fixturePath } from '../../support/paths.ts';
import { removeDir, tempDir } from '../../support/tmp.ts';
import { runCheck } from './mariadb-harness.ts';

const fixture = (name: string): string => fixturePath('mysql', name);
const run = (...args: string[]) => runPlugin(mysql, args, { env: {} });
const scratch = tempDir('hawatch-mysql-input-');
afterAll(() => removeDir(scratch));

describe('check_ha_mysql --input-file', () => {
  it('MySQL 8.4 SHOW REPLICA STATUS naming, active-passive healthy', async () => {
    const r = await run('--input-file', fixture('mysql-8.4-active-passive-healthy.json'), '--mode', 'active-passive');
    expect(r.exitCode).toBe(0);
    expect(r.text).toMatch(/^MYSQL REPLICATION OK - 2\/2 servers reachable, 2 replication directions, max lag 0.4 s \|/);
    expect(r.text).toContain('[OK] db1 to db2: replicating, lag 0.4 s (heartbeat)');
    expect(r.text).toContain('[OK] db2 to db1: replicating, lag 0 s (Seconds_Behind_Master) [source is read-only, so no heartbeat is written there]');
    expect(r.text).toContain('server db2: MySQL 8.4.0, server_id 2, super_read_only');
    expect(r.text).toContain('db1_to_db2_lag=0.404s;60;300;0');
  });

  it('MySQL 8.4 duplicate key: the worker error is quoted without the coordinator wrapper', async () => {
    const r = await run('--input-file', fixture('mysql-8.4-duplicate-key-both-writable.json'), '--mode', 'active-passive');
    expect(r.exitCode).toBe(2);
    expect(r.text).toMatch(/^MYSQL REPLICATION CRITICAL - db1 to db2: SQL thread not running: Last_SQL_Error 1062 \[Worker 1 failed executing transaction [^ ]+ at source log binlog.000003, end_log_pos 48544, Could not execute Write_rows event on table app.orders, Duplicate entry 100 for key orders.PRIMARY/);
    expect(r.text).toContain('mode active-passive: 2 servers are writable');
    expect(r.text).not.toContain('Coordinator stopped');
  });

  it('MySQL 5.7 SHOW SLAVE STATUS: IO thread connecting, lag from Seconds_Behind_Master, auto_increment collision', async () => {
    const r = await run('--input-file', fixture('mysql-5.7-lag-io-connecting.json'), '-w', '60', '-c', '120');
    expect(r.exitCode).toBe(2);
    expect(r.text).toContain("[CRITICAL] db2 to db1: IO thread connecting to the source: Last_IO_Error 2003 [error reconnecting to master 'repl@10.0.0.2:3306' - retry-time: 60 retries: 3]");
    expect(r.text).toContain('[WARNING] db1 to db2: lag 75 s (Seconds_Behind_Master, above 60)');
    expect(r.text).toContain('[WARNING] auto_increment: db1 (increment 2, offset 1) and db2 (increment 2, offset 1)');
    // An unknown lag is left out of the perfdata (Icinga 2.13 rejects U).
    expect(r.text).not.toContain('db2_to_db1_lag=');
    const crit = await run('--input-file', fixture('mysql-5.7-lag-io-connecting.json'), '-w', '30', '-c', '60');
    expect(crit.text).toContain('[CRITICAL] db1 to db2: lag 75 s (Seconds_Behind_Master, above 60)');
  });

  it('MariaDB 10.11 captures from real servers replay', async () => {
    const ok = await run('--input-file', fixture('mariadb-10.11-healthy.json'), '-w', '5', '-c', '10');
    expect(ok.exitCode).toBe(0);
    expect(ok.text).toMatch(/a to b: replicating, lag [\d.]+ s \(heartbeat\) \[GTID Slave_Pos at [\d,-]+\]/);
    const dup = await run('--input-file', fixture('mariadb-10.11-duplicate-key.json'));
    expect(dup.exitCode).toBe(2);
    expect(dup.text).toMatch(/a to b: SQL thread not running: Last_SQL_Error 1062 \[Could not execute Write_rows_v1 event on table app.t, Duplicate entry 100 for key PRIMARY/);
    const blocked = await run('--input-file', fixture('mariadb-10.11-sql-thread-blocked.json'));
    expect(blocked.exitCode).toBe(1);
    expect(blocked.text).toMatch(/SQL thread not advancing/);
  });

  it('bad input gets one clear line and UNKNOWN', async () => {
    const bad = join(scratch, 'bad.json');
    writeFileSync(bad, '{"servers": 3}');
    expect((await run('--input-file', bad)).text).toBe('MYSQL REPLICATION UNKNOWN - input file has no servers array: expected a capture in format hawatch-mysql/1 (see plugins/mysql/README.md)\n');
    writeFileSync(bad, 'Slave_IO_Running: Yes');
    expect((await run('--input-file', bad)).text).toMatch(/^MYSQL REPLICATION UNKNOWN - input file is not JSON/);
    expect((await run('--input-file', '/nonexistent/x.json')).text).toBe('MYSQL REPLICATION UNKNOWN - cannot read input file /nonexistent/x.json: no such file\n');
    expect((await run('--mode', 'both')).text).toBe('MYSQL REPLICATION UNKNOWN - invalid --mode both: expected any, active-passive, active-active\n');
    expect((await run('--heartbeat-table', 'x; DROP TABLE y')).exitCode).toBe(3);
    expect((await run('--write-heartbeat', '-H', 'db1')).text).toBe('MYSQL REPLICATION UNKNOWN - --write-heartbeat needs --heartbeat-table DB.TABLE\n');
    expect((await run('-H', 'db1', '--defaults-file', '/nonexistent/my.cnf')).text).toBe('MYSQL REPLICATION UNKNOWN - cannot read option file /nonexistent/my.cnf: no such file\n');
    expect((await run('-H', 'db1:99999')).text).toMatch(/port 99999 is not a number from 1 to 65535/);
    expect((await run('--password', 'x')).text).toMatch(/unknown option --password/);
  });

  it('the built executable answers --help and replays a capture', async () => {
    const help = await runCheck('check_ha_mysql', ['--help']);
    expect(help.code).toBe(3);
    expect(help.stdout).toContain('--heartbeat-table DB.TABLE');
    expect(help.stdout).toContain('GRANT SLAVE MONITOR, BINLOG MONITOR');
    const replay = await runCheck('check_ha_mysql', ['--input-file', fixture('mysql-8.4-active-passive-healthy.json')]);
    expect(replay.code).toBe(0);
  });
});

describe('option files, targets and version naming', () => {
  it('parses [client] like libmysql: quotes, escapes, comments, dash/underscore, later wins', () => {
    const g = parseOptionFile([
      '# comment', 'user = ignored-before-group', '[client]', 'user = monitor', 'password = "p#ss \\"w0rd\\""', 'ssl_ca = /etc/ca.pem # trailing',
      '; another comment', '[mysqld]', 'password = server-only', '[check_ha_mysql]', 'user=hawatch', 'skip-ssl',
    ].join('\n'));
    const o = optionsFor(g, ['client', 'check_ha_mysql']);
    expect(o.get('user')).toBe('hawatch');
    expect(o.get('password')).toBe('p#ss "w0rd"');
    expect(o.get('ssl-ca')).toBe('/etc/ca.pem');
    expect(o.get('skip-ssl')).toBe('true');
  });

  it('follows !include relative to the file', () => {
    const files: Record<string, string> = { '/etc/a/extra.cnf': '[client]\npassword=from-include\n' };
    const g = parseOptionFile('[client]\nuser=u\n!include extra.cnf\n', '/etc/a/my.cnf', { readFile: (p) => files[p], listDir: () => [] });
    expect(optionsFor(g, ['client']).get('password')).toBe('from-include');
  });

  it('credentials: option file beats MYSQL_PWD; MYSQL_PWD when the file has none; never from argv', () => {
    const f = join(scratch, 'my.cnf');
    writeFileSync(f, '[client]\nuser=mon\npassword=filepw\n');
    const c = loadCredentials({ defaultsFile: f, groups: ['check_ha_mysql'], env: { MYSQL_PWD: 'envpw' } });
    expect(c.user).toBe('mon');
    expect(c.password).toBe('filepw');
    writeFileSync(f, '[client]\nuser=mon\n');
    expect(loadCredentials({ defaultsFile: f, groups: [], env: { MYSQL_PWD: 'envpw' } }).password).toBe('envpw');
    expect(loadCredentials({ groups: [], env: { HOME: '/nonexistent', MYSQL_USER: 'envuser' } }).user).toBe('envuser');
  });

  it('targets: host, host:port, [v6]:port, socket', () => {
    expect(parseTarget('db1', 3306)).toEqual({ label: 'db1', host: 'db1', port: 3306 });
    expect(parseTarget('10.0.0.2:3307', 3306)).toEqual({ label: '10.0.0.2:3307', host: '10.0.0.2', port: 3307 });
    expect(parseTarget('[fd00::2]:3308', 3306)).toEqual({ label: '[fd00::2]:3308', host: 'fd00::2', port: 3308 });
    expect(parseTarget('/run/mysqld/mysqld.sock', 3306)).toEqual({ label: '/run/mysqld/mysqld.sock', socketPath: '/run/mysqld/mysqld.sock' });
    expect(() => parseTarget('db 1', 3306)).toThrow(/expected HOST/);
  });

  it('chooses statements and maps column names by version', () => {
    expect(replicaStatusStatement('10.11.6-MariaDB-log')).toBe('SHOW ALL SLAVES STATUS');
    expect(replicaStatusStatement('5.5.5-10.4.32-MariaDB')).toBe('SHOW ALL SLAVES STATUS');
    expect(replicaStatusStatement('11.4.2-MariaDB')).toBe('SHOW ALL SLAVES STATUS');
    expect(replicaStatusStatement('8.4.0')).toBe('SHOW REPLICA STATUS');
    expect(replicaStatusStatement('8.0.22')).toBe('SHOW REPLICA STATUS');
    expect(replicaStatusStatement('8.0.21')).toBe('SHOW SLAVE STATUS');
    expect(replicaStatusStatement('5.7.44-log')).toBe('SHOW SLAVE STATUS');
    expect(binlogStatusStatement('8.4.0')).toBe('SHOW BINARY LOG STATUS');
    expect(binlogStatusStatement('8.0.36')).toBe('SHOW MASTER STATUS');
    expect(binlogStatusStatement('10.11.6-MariaDB')).toBe('SHOW MASTER STATUS');
    expect(versionNumbers('5.5.5-10.4.32-MariaDB')).toEqual([10, 4, 32]);
    expect(legacyColumnName('Seconds_Behind_Source')).toBe('Seconds_Behind_Master');
    expect(legacyColumnName('Replica_SQL_Running_State')).toBe('Slave_SQL_Running_State');
    expect(legacyColumnName('Relay_Source_Log_File')).toBe('Relay_Master_Log_File');
    expect(legacyColumnName('Replicate_Do_DB')).toBe('Replicate_Do_DB');
  });
});

describe('hazard rules', () => {
  const base = parseCapture(JSON.parse(readFileSync(fixture('mysql-8.4-active-passive-healthy.json'), 'utf8')));
  const srv = (inc: number, off: number): ServerUp => ({ ...(base.servers[0] as ServerUp), autoIncrementIncrement: inc, autoIncrementOffset: off });

  it('auto_increment collisions: same residue modulo gcd(increments)', () => {
    expect(autoIncrementCollides(srv(2, 1), srv(2, 2))).toBe(false);
    expect(autoIncrementCollides(srv(2, 1), srv(2, 1))).toBe(true);
    expect(autoIncrementCollides(srv(1, 1), srv(1, 1))).toBe(true);
    expect(autoIncrementCollides(srv(3, 1), srv(3, 2))).toBe(false);
    expect(autoIncrementCollides(srv(2, 1), srv(4, 3))).toBe(true);
    expect(autoIncrementCollides(srv(10, 1), srv(10, 12))).toBe(true); // offset > increment is ignored by MySQL: 1
  });

  it('a pair where only one direction is configured is CRITICAL', () => {
    const one = { ...base, servers: [base.servers[0]!, { ...(base.servers[1] as ServerUp), last: { ...(base.servers[1] as ServerUp).last, channels: [] } }] };
    const r = evaluate(one, { mode: 'any', thresholds: {} });
    expect(effectiveState(r)).toBe(2);
    expect(JSON.stringify(r)).toContain('no replication into db2 from db1 configured');
  });
});

describe('roles in perfdata (what a cluster rule sums)', () => {
  const base = parseCapture(JSON.parse(readFileSync(fixture('mysql-8.4-active-passive-healthy.json'), 'utf8')));
  const up = (i: number, o: Partial<ServerUp>): ServerUp => ({ ...(base.servers[i] as ServerUp), ...o });
  /** The <server>_writable items of a plugin run's first line. */
  const writable = (text: string) => Object.fromEntries(parsePerfdata(text.split('\n')[0]!.split('|')[1] ?? '').items.filter((p) => p.label.endsWith('_writable')).map((p) => [p.label, p.value]));

  it('active-passive: the writable server 1, the super_read_only one 0', async () => {
    const r = await run('--input-file', fixture('mysql-8.4-active-passive-healthy.json'), '--mode', 'active-passive');
    expect(writable(r.text)).toEqual({ db1_writable: 1, db2_writable: 0 });
  });

  it('both writable (the active-passive fault) shows 1 and 1, also with --mode any', async () => {
    const r = await run('--input-file', fixture('mysql-8.4-duplicate-key-both-writable.json'));
    expect(writable(r.text)).toEqual({ db1_writable: 1, db2_writable: 1 });
  });

  it('read_only alone or super_read_only alone makes a server not writable', () => {
    const obs = { ...base, servers: [up(0, { readOnly: true, superReadOnly: false }), up(1, { readOnly: false, superReadOnly: true })] };
    expect(rolePerfdata(obs).map((p) => [p.label, p.value])).toEqual([['db1_writable', 0], ['db2_writable', 0]]);
    const rw = { ...base, servers: [up(0, { readOnly: false, superReadOnly: false })] };
    expect(rolePerfdata(rw)).toEqual([{ label: 'db1_writable', value: 1, min: 0, max: 1 }]);
  });

  it('a server that cannot be read is left out, and the role items lead the perfdata', () => {
    const obs = { ...base, servers: [base.servers[0]!, { ok: false as const, label: 'db2', address: undefined, kind: 'down', message: 'connection refused' }] };
    const r = evaluate(obs, { mode: 'active-passive', thresholds: {} });
    expect(r.perfdata?.map((p) => [p.label, p.value])).toEqual([['db1_writable', 1]]);
  });
});
