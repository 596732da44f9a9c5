/**
 * check_ha_mysql against two real MariaDB servers in master-master replication on loopback,
 * started once for the file. Each test breaks one thing and repairs it afterwards.
 */
import { spawnSync } from 'node:child_process';
import { chownSync, copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { fixturePath } from '../../support/paths.ts';
import { freePort } from '../../support/ports.ts';
import { requireProgram, requireUser } from '../../support/require.ts';
import { removeDir, tempDir } from '../../support/tmp.ts';
import { waitFor } from '../../support/wait.ts';
import { runCheck, startServer, writeOptionFile, type Server } from './mariadb-harness.ts';

const REPL_PW = 'repl-secret';
const MON_PW = 'mon it0r"pw';

let a: Server;
let b: Server;
let optionFile: string;
let hbTimer: NodeJS.Timeout | undefined;
let hbConns: Connection[] = [];
let pki: string;

/** A CA and a server certificate for IP 127.0.0.1, plus an unrelated CA, made with openssl. */
function makePki(): string {
  const openssl = requireProgram('openssl', 'openssl');
  const dir = tempDir('hawatch-mysql-tls-');
  const ossl = (...args: string[]): void => {
    const r = spawnSync(openssl, args, { cwd: dir, encoding: 'utf8' });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  for (const ca of ['ca', 'other-ca']) {
    ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.pem`, '-days', '2', '-subj', `/CN=hawatch test ${ca}`);
  }
  ossl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=db-a');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  ossl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext');
  const mysqlUid = requireUser('mysql', 'mariadb-server').uid;
  chownSync(dir, mysqlUid, -1);
  for (const f of ['ca.pem', 'server.pem', 'server.key']) chownSync(join(dir, f), mysqlUid, -1);
  return dir;
}

function mmArgs(id: number): string[] {
  return [
    '--log-bin=mysql-bin', '--log-slave-updates', '--binlog-format=ROW', '--relay-log=relay-bin',
    `--gtid-domain-id=${id}`, '--auto-increment-increment=2', `--auto-increment-offset=${id}`,
  ];
}

async function slaveStatus(s: Server): Promise<RowDataPacket> {
  const rows = await s.query<RowDataPacket[]>('SHOW SLAVE STATUS');
  return rows[0]!;
}

async function bothRunning(s: Server): Promise<boolean> {
  const r = await slaveStatus(s);
  return r.Slave_IO_Running === 'Yes' && r.Slave_SQL_Running === 'Yes';
}

function hosts(): string[] {
  return ['-H', `a=127.0.0.1:${a.port}`, '-H', `b=127.0.0.1:${b.port}`, '--defaults-file', optionFile];
}

function check(...args: string[]) {
  return runCheck('check_ha_mysql', [...hosts(), ...args]);
}

/** Runs live with --save-input, then replays the capture: same output. HAWATCH_UPDATE_FIXTURES=1 keeps it as a fixture. */
async function checkAndReplay(fixture: string, ...args: string[]) {
  const saved = join(a.dir, `${fixture}.json`);
  const live = await check(...args, '--save-input', saved);
  const replay = await runCheck('check_ha_mysql', ['--input-file', saved, ...args.filter((x, i) => !['--heartbeat-table', '--defaults-file'].includes(args[i - 1] ?? '') && !['--heartbeat-table', '--defaults-file'].includes(x))]);
  expect(replay.stdout).toBe(live.stdout);
  expect(replay.code).toBe(live.code);
  if (process.env.HAWATCH_UPDATE_FIXTURES) copyFileSync(saved, fixturePath('mysql', `${fixture}.json`));
  return live;
}

async function startHeartbeats(): Promise<void> {
  hbConns = [await a.connect(), await b.connect()];
  const beat = (): void => {
    for (const c of hbConns) c.query('REPLACE INTO hb.heartbeat (ts, server_id) VALUES (NOW(6), @@server_id)').catch(() => undefined);
  };
  beat();
  hbTimer = setInterval(beat, 200);
}

async function stopHeartbeats(): Promise<void> {
  if (hbTimer) clearInterval(hbTimer);
  hbTimer = undefined;
  await Promise.all(hbConns.map((c) => c.end().catch(() => undefined)));
  hbConns = [];
}

async function heartbeatLag(replica: Server, sourceId: number): Promise<number> {
  const rows = await replica.query<RowDataPacket[]>('SELECT UNIX_TIMESTAMP(NOW(6)) - UNIX_TIMESTAMP(ts) AS lag FROM hb.heartbeat WHERE server_id = ?', [sourceId]);
  return Number(rows[0]?.lag ?? -1);
}

/** Waits until everything written on each server so far has been applied on the other. */
async function synced(): Promise<void> {
  const [pa] = await a.query<RowDataPacket[]>('SELECT @@gtid_binlog_pos AS p');
  const [pb] = await b.query<RowDataPacket[]>('SELECT @@gtid_binlog_pos AS p');
  await b.query('SELECT MASTER_GTID_WAIT(?, 20)', [String(pa!.p)]);
  await a.query('SELECT MASTER_GTID_WAIT(?, 20)', [String(pb!.p)]);
}

beforeAll(async () => {
  pki = makePki();
  const tls = [`--ssl-ca=${join(pki, 'ca.pem')}`, `--ssl-cert=${join(pki, 'server.pem')}`, `--ssl-key=${join(pki, 'server.key')}`];
  [a, b] = await Promise.all([startServer({ serverId: 1, name: 'a', args: [...mmArgs(1), ...tls] }), startServer({ serverId: 2, name: 'b', args: mmArgs(2) })]);
  // Local-only set-up on both (not binlogged, so replication does not replay it).
  for (const s of [a, b]) {
    const c = await s.connect();
    await c.query('SET SESSION sql_log_bin = 0');
    await c.query(`CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY '${REPL_PW}'`);
    await c.query("GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1'");
    await c.end();
  }
  for (const [replica, source] of [[a, b], [b, a]] as const) {
    await replica.query(`CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${source.port}, MASTER_USER='repl', MASTER_PASSWORD='${REPL_PW}', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1`);
    await replica.query('START SLAVE');
  }
  await waitFor('both directions running', async () => (await bothRunning(a)) && (await bothRunning(b)), 20_000);
  // Replicated from a: schema, heartbeat table (pt-heartbeat layout) and the least-privilege monitoring user.
  await a.query('CREATE DATABASE app');
  await a.query('CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))');
  await a.query('CREATE DATABASE hb');
  await a.query('CREATE TABLE hb.heartbeat (ts VARCHAR(26) NOT NULL, server_id INT UNSIGNED NOT NULL PRIMARY KEY, file VARCHAR(255) DEFAULT NULL, position BIGINT UNSIGNED DEFAULT NULL, relay_master_log_file VARCHAR(255) DEFAULT NULL, exec_master_log_pos BIGINT UNSIGNED DEFAULT NULL)');
  await a.query("CREATE USER 'hawatch'@'127.0.0.1' IDENTIFIED BY ?", [MON_PW]);
  await a.query("GRANT SLAVE MONITOR, BINLOG MONITOR ON *.* TO 'hawatch'@'127.0.0.1'");
  await a.query("GRANT SELECT, INSERT, UPDATE ON hb.heartbeat TO 'hawatch'@'127.0.0.1'");
  await a.query("CREATE USER 'nopriv'@'127.0.0.1' IDENTIFIED BY 'x'");
  await a.query("CREATE USER 'tlsmon'@'127.0.0.1' IDENTIFIED BY 'tls-pw' REQUIRE SSL");
  await a.query("GRANT SLAVE MONITOR, BINLOG MONITOR ON *.* TO 'tlsmon'@'127.0.0.1'");
  await synced();
  optionFile = writeOptionFile(a.dir, 'hawatch', MON_PW.replace(/"/g, '\\"'));
  await startHeartbeats();
  await waitFor('heartbeats replicated', async () => (await heartbeatLag(b, 1)) >= 0 && (await heartbeatLag(a, 2)) >= 0, 20_000);
}, 120_000);

afterAll(async () => {
  await stopHeartbeats();
  await Promise.all([a?.stop(), b?.stop()]);
  for (const s of [a, b]) if (s) removeDir(s.dir);
  if (pki) removeDir(pki);
});

describe('check_ha_mysql against a real MariaDB master-master pair', () => {
  it('healthy pair: OK, both directions, heartbeat lag perfdata', async () => {
    const r = await checkAndReplay('mariadb-10.11-healthy', '--heartbeat-table', 'hb.heartbeat', '-w', '5', '-c', '10');
    expect(r.stdout).toMatch(/^MYSQL REPLICATION OK - 2\/2 servers reachable, 2 replication directions/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\[OK\] a to b: replicating, lag [\d.]+ s \(heartbeat\)/);
    expect(r.stdout).toMatch(/\[OK\] b to a: replicating, lag [\d.]+ s \(heartbeat\)/);
    expect(r.stdout).toMatch(/a_to_b_lag=[\d.]+s;5;10;0 /);
    expect(r.stdout).toMatch(/b_to_a_io_running=1;;;0;1/);
    expect(r.stdout).toMatch(/a_threads_running=\d+;;;0/);
    expect(r.stdout).toContain('MariaDB 10.');
    // Both masters of the pair accept writes (read_only=OFF): the role a cluster rule counts.
    expect(r.stdout).toMatch(/\| a_writable=1;;;0;1 b_writable=1;;;0;1 /);
    // Without a heartbeat table the lag is Seconds_Behind_Master.
    const sbm = await check();
    expect(sbm.code).toBe(0);
    expect(sbm.stdout).toMatch(/a to b: replicating, lag \d+ s \(Seconds_Behind_Master\)/);
  });

  it('one server only: judges its own incoming direction', async () => {
    const r = await runCheck('check_ha_mysql', ['-H', `b=127.0.0.1:${b.port}`, '--defaults-file', optionFile]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/1\/1 server reachable, 1 replication direction/);
    expect(r.stdout).toContain(`127.0.0.1:${a.port} to b: replicating`);
  });

  it('STOP SLAVE on b: CRITICAL naming the direction a -> b', async () => {
    await b.query('STOP SLAVE');
    try {
      const r = await check();
      expect(r.code).toBe(2);
      expect(r.stdout).toMatch(/^MYSQL REPLICATION CRITICAL - a to b: replication stopped/);
      expect(r.stdout).toMatch(/\[OK\] b to a: replicating/);
      expect(r.stdout).toMatch(/a_to_b_io_running=0;;;0;1 a_to_b_sql_running=0;;;0;1/);
      await b.query('START SLAVE');
      await b.query('STOP SLAVE SQL_THREAD');
      const sql = await check();
      expect(sql.code).toBe(2);
      expect(sql.stdout).toMatch(/a to b: SQL thread not running/);
    } finally {
      await b.query('START SLAVE');
      await waitFor('b replicating again', () => bothRunning(b), 20_000);
    }
  });

  it('duplicate key on the replica: CRITICAL quoting Last_SQL_Error', async () => {
    const c = await b.connect();
    await c.query('SET SESSION sql_log_bin = 0');
    await c.query("INSERT INTO app.t VALUES (100, 'only on b')");
    await c.end();
    await a.query("INSERT INTO app.t VALUES (100, 'from a')");
    await waitFor('SQL error on b', async () => Number((await slaveStatus(b)).Last_SQL_Errno) === 1062, 20_000);
    try {
      const r = await checkAndReplay('mariadb-10.11-duplicate-key', '--heartbeat-table', 'hb.heartbeat');
      expect(r.code).toBe(2);
      expect(r.stdout).toMatch(/^MYSQL REPLICATION CRITICAL - a to b: SQL thread not running: Last_SQL_Error 1062 \[[^\]]*Duplicate entry 100 for key PRIMARY/);
    } finally {
      const fix = await b.connect();
      await fix.query('STOP SLAVE');
      await fix.query('SET SESSION sql_log_bin = 0');
      await fix.query('DELETE FROM app.t WHERE id = 100');
      await fix.query('START SLAVE');
      await fix.end();
      await waitFor('b replicating again', () => bothRunning(b), 20_000);
      await synced();
    }
  });

  it('lag by heartbeat (MASTER_DELAY on b): WARNING and CRITICAL by -w/-c', async () => {
    await b.query('STOP SLAVE');
    await b.query('CHANGE MASTER TO MASTER_DELAY = 4');
    await b.query('START SLAVE');
    try {
      await waitFor('heartbeat lag >= 2 s on b', async () => (await heartbeatLag(b, 1)) >= 2, 15_000);
      const warn = await check('--heartbeat-table', 'hb.heartbeat', '-w', '1.5', '-c', '100');
      expect(warn.stdout).toMatch(/^MYSQL REPLICATION WARNING - a to b: lag [\d.]+ s \(heartbeat, above 1.5\)/);
      expect(warn.code).toBe(1);
      expect(warn.stdout).toContain('intentional delay 4 s');
      expect(warn.stdout).toMatch(/\[OK\] b to a: replicating/);
      const crit = await check('--heartbeat-table', 'hb.heartbeat', '-w', '1.9', '-c', '1.95');
      expect(crit.code).toBe(2);
      expect(crit.stdout).toMatch(/a to b: lag [\d.]+ s \(heartbeat, above 1.95\)/);
      const lag = Number(/a_to_b_lag=([\d.]+)s/.exec(crit.stdout)?.[1]);
      expect(lag).toBeGreaterThanOrEqual(2);
      expect(lag).toBeLessThan(6);
    } finally {
      await b.query('STOP SLAVE');
      await b.query('CHANGE MASTER TO MASTER_DELAY = 0');
      await b.query('START SLAVE');
      await waitFor('b caught up', async () => (await heartbeatLag(b, 1)) < 1, 20_000);
    }
  });

  it('--mode: both writable in active-passive is CRITICAL; one read-only is OK', async () => {
    const both = await check('--mode', 'active-passive');
    expect(both.code).toBe(2);
    expect(both.stdout).toMatch(/mode active-passive: 2 servers are writable: a \(read_only=OFF\), b \(read_only=OFF\)/);
    await b.query('SET GLOBAL read_only = 1');
    try {
      const one = await check('--mode', 'active-passive');
      expect(one.code).toBe(0);
      expect(one.stdout).toContain('[OK] mode active-passive: a is the only writable server');
      expect(one.stdout).toContain(' a_writable=1;;;0;1 b_writable=0;;;0;1 ');
      const aa = await check('--mode', 'active-active');
      expect(aa.code).toBe(1);
      expect(aa.stdout).toMatch(/mode active-active: read-only in an active-active set: b \(read_only=ON\)/);
    } finally {
      await b.query('SET GLOBAL read_only = 0');
    }
  });

  it('equal server_id and colliding auto_increment settings are flagged', async () => {
    await stopHeartbeats();
    await b.query('SET GLOBAL auto_increment_offset = 1');
    try {
      const ai = await check();
      expect(ai.code).toBe(1);
      expect(ai.stdout).toMatch(/auto_increment: a \(increment 2, offset 1\) and b \(increment 2, offset 1\) generate the same AUTO_INCREMENT values/);
      const aa = await check('--mode', 'active-active');
      expect(aa.code).toBe(2);
    } finally {
      await b.query('SET GLOBAL auto_increment_offset = 2');
    }
    await b.query('SET GLOBAL server_id = 1');
    try {
      const r = await check();
      expect(r.code).toBe(2);
      expect(r.stdout).toMatch(/server_id: a and b have the same server_id 1/);
    } finally {
      await b.query('SET GLOBAL server_id = 2');
      await startHeartbeats();
    }
  });

  it('SQL thread blocked by a lock: "not advancing" with --progress-interval', async () => {
    const locker = await b.connect();
    await locker.query('LOCK TABLES app.t WRITE');
    try {
      await a.query("INSERT INTO app.t VALUES (7, 'blocked on b')");
      await waitFor('b SQL thread waiting', async () => /lock/i.test(String((await slaveStatus(b)).Slave_SQL_Running_State)), 10_000);
      const r = await checkAndReplay('mariadb-10.11-sql-thread-blocked', '--progress-interval', '1');
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/a to b: SQL thread not advancing: executed position stuck at mysql-bin\.\d+:\d+ for [\d.]+ s while the IO thread has read up to mysql-bin\.\d+:\d+/);
    } finally {
      await locker.query('UNLOCK TABLES');
      await locker.end();
      await synced();
    }
  });

  it('--write-heartbeat writes this run\'s heartbeat and waits for it on the peer', async () => {
    await stopHeartbeats();
    try {
      const before = await a.query<RowDataPacket[]>('SELECT UNIX_TIMESTAMP(ts) AS ts FROM hb.heartbeat WHERE server_id = 2');
      const r = await check('--heartbeat-table', 'hb.heartbeat', '--write-heartbeat', '-w', '2', '-c', '5');
      expect(r.stdout).toMatch(/^MYSQL REPLICATION OK/);
      expect(r.code).toBe(0);
      const lag = Number(/b_to_a_lag=([\d.]+)s/.exec(r.stdout)?.[1]);
      expect(lag).toBeLessThan(1);
      const after = await a.query<RowDataPacket[]>('SELECT UNIX_TIMESTAMP(ts) AS ts FROM hb.heartbeat WHERE server_id = 2');
      expect(Number(after[0]!.ts)).toBeGreaterThan(Number(before[0]!.ts));
    } finally {
      await startHeartbeats();
    }
  });

  it('a server that is down: CRITICAL for it, the other still judged', async () => {
    const dead = await freePort();
    const r = await runCheck('check_ha_mysql', ['-H', `a=127.0.0.1:${a.port}`, '-H', `c=127.0.0.1:${dead}`, '--defaults-file', optionFile]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/server c: cannot check: connection refused/);
    expect(r.stdout).toContain('[OK] server a: MariaDB');
    // The dead server's writability is unknown: no item for it, rather than a 0 a rule would count.
    expect(r.stdout).toContain('a_writable=1;;;0;1');
    expect(r.stdout).not.toContain('c_writable');
    expect(r.stderr).toBe('');
  });

  it('a refused password or a missing privilege: UNKNOWN with what to do', async () => {
    const bad = writeOptionFile(a.dir, 'hawatch-wrong', 'wrong');
    const wrong = await runCheck('check_ha_mysql', ['-H', `a=127.0.0.1:${a.port}`, '--defaults-file', bad, '--user', 'hawatch']);
    expect(wrong.code).toBe(3);
    expect(wrong.stdout).toMatch(/^MYSQL REPLICATION UNKNOWN - server a: cannot check: Access denied for user hawatch@127\.0\.0\.1 \(using password: YES\) \(check the user and password in the option file\)/);
    const np = writeOptionFile(a.dir, 'nopriv', 'x');
    const priv = await runCheck('check_ha_mysql', ['-H', `a=127.0.0.1:${a.port}`, '--defaults-file', np]);
    expect(priv.code).toBe(3);
    expect(priv.stdout).toMatch(/server a: cannot check: Access denied; you need .*SLAVE MONITOR.* \(see the GRANT in the README\)/);
    // MYSQL_PWD works when the option file has no password.
    const env = await runCheck('check_ha_mysql', ['-H', `a=127.0.0.1:${a.port}`, '--user', 'hawatch'], { MYSQL_PWD: MON_PW });
    expect(env.code).toBe(0);
  });

  it('TLS from the option file: verified against the CA and the IP; a wrong CA is refused', async () => {
    const cnf = (extra: string): string => {
      const f = join(pki, `client-${extra.length}.cnf`);
      writeFileSync(f, `[client]\nuser=tlsmon\npassword=tls-pw\n${extra}\n`, { mode: 0o600 });
      return f;
    };
    const ok = await runCheck('check_ha_mysql', ['-H', `a=127.0.0.1:${a.port}`, '--defaults-file', cnf(`ssl-ca=${join(pki, 'ca.pem')}\nssl-mode=VERIFY_IDENTITY`)]);
    expect(ok.stdout).toMatch(/^MYSQL REPLICATION OK/); // the account has REQUIRE SSL: only a TLS login gets in
    expect(ok.code).toBe(0);
    const wrongName = await runCheck('check_ha_mysql', ['-H', `a=localhost:${a.port}`, '--defaults-file', cnf(`ssl-ca=${join(pki, 'ca.pem')}\nssl-mode=VERIFY_IDENTITY\n#`)]);
    expect(wrongName.stdout).toMatch(/^MYSQL REPLICATION UNKNOWN - server a: cannot check: TLS failed: Hostname\/IP does not match certificates altnames/);
    const wrongCa = await runCheck('check_ha_mysql', ['-H', `a=127.0.0.1:${a.port}`, '--defaults-file', cnf(`ssl-ca=${join(pki, 'other-ca.pem')}`)]);
    expect(wrongCa.code).toBe(3);
    expect(wrongCa.stdout).toMatch(/^MYSQL REPLICATION UNKNOWN - server a: cannot check: TLS failed: .*(certificate|self.signed)/i);
    const plain = await runCheck('check_ha_mysql', ['-H', `a=127.0.0.1:${a.port}`, '--defaults-file', cnf('')]);
    expect(plain.code).toBe(3);
    expect(plain.stdout).toMatch(/Access denied for user '?tlsmon/);
  });

  it('a hung server (SIGSTOP) with -t 3:critical: answers within the timeout, in the -t state', async () => {
    process.kill(b.proc.pid!, 'SIGSTOP');
    try {
      // The time ran out (issue 9 item 8): the state after the colon, whatever stage it was at.
      const r = await check('-t', '3:critical');
      expect(r.ms).toBeLessThan(4500); // node start-up plus the 3 s deadline
      expect(r.code).toBe(2);
      expect(r.stdout).toMatch(/^MYSQL REPLICATION CRITICAL - plugin timed out after 3 s/);
    } finally {
      process.kill(b.proc.pid!, 'SIGCONT');
    }
    await waitFor('b back', () => bothRunning(b), 20_000);
  });
});
