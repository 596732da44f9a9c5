// The hawatch lab (issue 13 items 3 and 4): the seed's hosting cluster in network namespaces on
// one machine, with real daemons, real faults and the notifications they cause.
//
//   npm run lab -- up | fault NAME | heal NAME | down | run [--short] | status | faults
//
// Everything the lab makes is named with its prefix (namespaces PREFIX-lb1 ..., default hwl)
// and kept in its state dir (default /tmp/hawatch-lab-PREFIX): pid files, configs, data, logs,
// the receivers' files. `down` finds all of it from there and from the namespace names, so it
// cleans up after a lab process that crashed (also the storage nodes' glusterd, bricks and FUSE
// client, which live in mount namespaces of their own inside the network namespaces). Other scripts import up(), fault(), heal(),
// down(), run(), paths() and the constants below (see scripts/lab/README.md).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(ROOT, 'dist', 'bin');
const EXAMPLE = join(ROOT, 'examples', 'hosting-cluster');
const MP = '/usr/lib/nagios/plugins';

export const PREFIX = process.env.HAWATCH_LAB_PREFIX || 'hwl';
export const STATE_DIR = process.env.HAWATCH_LAB_DIR || `/tmp/hawatch-lab-${PREFIX}`;
/** The admin node's namespace, its address and the server's HTTPS port. */
export const ADMIN_NS = `${PREFIX}-admin`;
export const ADMIN_IP = '198.51.100.5';
export const SERVER_PORT = 8443;
const GW_NS = `${PREFIX}-gw`;
const SW_NS = `${PREFIX}-sw`;
const SMTP_PORT = 2525;
const SMS_PORT = 8025;
const API_TOKEN = 'lab-api-token-0123456789abcdef';

/**
 * The nodes: role, address, contact group, tier. The storage pair (nfs1, nfs2) is a GlusterFS
 * pool instead of the seed's DRBD (no DRBD kernel module here): `gpeer` is its peer.
 */
export const NODES = {
  lb1: { role: 'lb', ip: '192.0.2.11', peer: '192.0.2.12', prio: 150, group: 'lb-admins' },
  lb2: { role: 'lb', ip: '192.0.2.12', peer: '192.0.2.11', prio: 100, group: 'lb-admins' },
  web1: { role: 'web', ip: '192.0.2.21', group: 'web-admins' },
  web2: { role: 'web', ip: '192.0.2.22', group: 'web-admins' },
  db1: { role: 'db', ip: '192.0.2.31', peer: '192.0.2.32', prio: 150, group: 'db-admins', serverId: 1 },
  db2: { role: 'db', ip: '192.0.2.32', peer: '192.0.2.31', prio: 100, group: 'db-admins', serverId: 2 },
  nfs1: { role: 'nfs', ip: '192.0.2.41', gpeer: '192.0.2.42', group: 'storage-admins' },
  nfs2: { role: 'nfs', ip: '192.0.2.42', gpeer: '192.0.2.41', group: 'storage-admins' },
};
/** Agent addresses by node name (NRPE on 5666, TLS with the lab CA). */
export const AGENTS = Object.fromEntries(Object.entries(NODES).map(([n, v]) => [n, v.ip]));
const VIPS = { lb: '192.0.2.10', db: '192.0.2.30' };
/** Each tier's switch: an address on the lab bridge the admin node pings (the tier's parent host). */
const TIER_SW = { lb: '192.0.2.19', web: '192.0.2.29', db: '192.0.2.39', nfs: '192.0.2.49' };
/** The gluster volume: replica 3 arbiter 1, data bricks on nfs1 and nfs2, the arbiter on nfs1. */
const VOLUME = 'www';
/** The watcher of a storage peer's check: its glusterd.log, followed across rotation. */
const glusterdLogTail = (node) => ['/usr/bin/tail', '-n', '0', '-F', join(dirOf(node), 'gluster', 'log', 'glusterd.log')];
/** glusterd.log lines that mean a peer, a brick or the quorum changed (seen in the lab's logs). */
const GLUSTERD_CHANGE = 'has disconnected from glusterd|Received (ACC|RJT) from uuid|Received friend update|[Qq]uorum|[Bb]rick .*(start|stop|disconnect|connect)';
/** glusterd (24007) and its RDMA port (24008); bricks listen on random ports in base-port..max-port. */
const GLUSTER_PORTS = { mgmt: '24007:24008', bricks: '49152:60999' };
const GW_LAN = '192.0.2.1';
const GW_ADMIN = '198.51.100.1';
const SUDOERS = `/etc/sudoers.d/hawatch-lab-${PREFIX}`;

export const ns = (node) => `${PREFIX}-${node}`;
const dirOf = (name) => join(STATE_DIR, name);

/** The receivers' files and other paths a caller may read. */
export function paths() {
  return {
    stateDir: STATE_DIR,
    mail: join(STATE_DIR, 'mail.jsonl'),
    sms: join(STATE_DIR, 'sms.jsonl'),
    inventory: join(STATE_DIR, 'admin', 'inventory.yaml'),
    serverLog: join(STATE_DIR, 'logs', 'server.log'),
    ca: join(STATE_DIR, 'pki', 'ca.crt'),
    serverUrl: `https://${ADMIN_IP}:${SERVER_PORT}/`,
    apiToken: API_TOKEN,
  };
}

// ---------------------------------------------------------------------------------------------
// small helpers

function sh(file, args, opts = {}) {
  const r = spawnSync(file, args, { encoding: 'utf8', timeout: opts.timeoutMs ?? 60_000, input: opts.input, env: opts.env ?? process.env });
  if (r.status !== 0 && !opts.ok) throw new Error(`${file} ${args.join(' ')} failed (${r.status ?? r.signal ?? r.error?.message}): ${(r.stderr || r.stdout || '').trim().slice(0, 800)}`);
  return r.stdout ?? '';
}
const nsx = (node, file, args, opts) => sh('ip', ['netns', 'exec', ns(node), file, ...args], opts);
const nsRaw = (name, file, args, opts) => sh('ip', ['netns', 'exec', name, file, ...args], opts);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (msg) => { if (!process.env.HAWATCH_LAB_QUIET) process.stderr.write(`lab: ${msg}\n`); };

/** Waits for pred() (sync or async) to be truthy; every wait has a deadline. */
async function waitFor(what, pred, timeoutMs, everyMs = 250) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await pred();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`lab: timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${last ? ` (last error: ${last.message})` : ''}`);
    await sleep(everyMs);
  }
}

function write(path, text, mode = 0o644) {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  writeFileSync(path, text, { mode });
  chmodSync(path, mode);
}

/**
 * Starts a daemon in a namespace, detached in its own process group, output to logs/NAME.log,
 * its pid in pids/NAME.pid (the group leader: `down` kills the group).
 */
function daemon(name, node, file, args, opts = {}) {
  const out = openSync(join(STATE_DIR, 'logs', `${name}.log`), 'a');
  const child = spawn('ip', ['netns', 'exec', node.startsWith(`${PREFIX}-`) ? node : ns(node), file, ...args], {
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...process.env, ...(opts.env ?? {}) },
    cwd: opts.cwd ?? STATE_DIR,
  });
  closeSync(out);
  child.unref();
  writeFileSync(join(STATE_DIR, 'pids', `${name}.pid`), `${child.pid}\n`);
  return child.pid;
}

function pidOf(name) {
  try {
    return Number(readFileSync(join(STATE_DIR, 'pids', `${name}.pid`), 'utf8').trim()) || null;
  } catch {
    return null;
  }
}
const alive = (pid) => {
  try { process.kill(pid, 0); return true; } catch { return false; }
};

/** Stops the process group a pid file names: TERM, then KILL after a bounded wait. */
async function stopDaemon(name, signal = 'SIGTERM', waitMs = 5000) {
  const pid = pidOf(name);
  if (!pid) return;
  try { process.kill(-pid, signal); } catch { /* gone */ }
  const end = Date.now() + waitMs;
  while (alive(pid) && Date.now() < end) await sleep(100);
  if (alive(pid)) try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
  rmSync(join(STATE_DIR, 'pids', `${name}.pid`), { force: true });
}

function lineCount(file) {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}
function readLines(file) {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

// ---------------------------------------------------------------------------------------------
// network

function labNamespaces() {
  const out = sh('ip', ['netns', 'list'], { ok: true });
  return out.split('\n').map((l) => l.split(' ')[0]).filter((n) => n && n.startsWith(`${PREFIX}-`));
}

function makeNetwork() {
  for (const n of [SW_NS, GW_NS, ADMIN_NS, ...Object.keys(NODES).map(ns)]) {
    sh('ip', ['netns', 'add', n]);
    nsRaw(n, 'ip', ['link', 'set', 'lo', 'up']);
  }
  // One bridge in a namespace of its own: nothing of the lab touches the host's namespace.
  nsRaw(SW_NS, 'ip', ['link', 'add', 'br0', 'type', 'bridge']);
  nsRaw(SW_NS, 'ip', ['link', 'set', 'br0', 'up']);
  const plug = (name, port) => {
    // The veth is made inside the switch namespace, its peer moved into the node's as eth0.
    nsRaw(SW_NS, 'ip', ['link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name]);
    nsRaw(SW_NS, 'ip', ['link', 'set', port, 'master', 'br0', 'up']);
    nsRaw(name, 'ip', ['link', 'set', 'eth0', 'up']);
  };
  for (const [node, v] of Object.entries(NODES)) {
    plug(ns(node), `p-${node}`);
    nsx(node, 'ip', ['addr', 'add', `${v.ip}/24`, 'dev', 'eth0']);
    // Only the admin network is routed, through the gateway: no default route, nothing leaves the lab.
    nsx(node, 'ip', ['route', 'add', '198.51.100.0/24', 'via', GW_LAN]);
  }
  plug(GW_NS, 'p-gw');
  nsRaw(GW_NS, 'ip', ['addr', 'add', `${GW_LAN}/24`, 'dev', 'eth0']);
  // The tiers' switch addresses live on the bridge itself.
  for (const a of Object.values(TIER_SW)) nsRaw(SW_NS, 'ip', ['addr', 'add', `${a}/24`, 'dev', 'br0']);
  nsRaw(SW_NS, 'ip', ['route', 'add', '198.51.100.0/24', 'via', GW_LAN]);
  // The admin node on its own link to the gateway (the other data centre).
  nsRaw(GW_NS, 'ip', ['link', 'add', 'admin0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ADMIN_NS]);
  nsRaw(GW_NS, 'ip', ['addr', 'add', `${GW_ADMIN}/24`, 'dev', 'admin0']);
  nsRaw(GW_NS, 'ip', ['link', 'set', 'admin0', 'up']);
  nsRaw(ADMIN_NS, 'ip', ['addr', 'add', `${ADMIN_IP}/24`, 'dev', 'eth0']);
  nsRaw(ADMIN_NS, 'ip', ['link', 'set', 'eth0', 'up']);
  nsRaw(ADMIN_NS, 'ip', ['route', 'add', '192.0.2.0/24', 'via', GW_ADMIN]);
  nsRaw(GW_NS, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  // The chain the "admin cut off from a tier" fault fills.
  nsRaw(GW_NS, 'iptables', ['-N', 'LABCUT']);
  nsRaw(GW_NS, 'iptables', ['-A', 'FORWARD', '-j', 'LABCUT']);
}

/**
 * The storage tier's firewall: the seed's nfs.rules with GlusterFS in place of DRBD and
 * Heartbeat: glusterd and the bricks from the peer, the same for the web servers (native
 * gluster clients) beside the seed's NFS 2049, SSH 322 and the agent from the admin node.
 */
function storageFirewall(rules) {
  const web = [NODES.web1.ip, NODES.web2.ip];
  const nfs = [NODES.nfs1.ip, NODES.nfs2.ip];
  const lines = [];
  for (const a of [...nfs, ...web]) for (const p of Object.values(GLUSTER_PORTS)) lines.push(`-A INPUT -s ${a}/32 -p tcp -m tcp --dport ${p} -j ACCEPT`);
  rules = rules.split('\n').filter((l) => !/--dport (7788|694)\b/.test(l)).join('\n')
    .replace(/^(-A INPUT -s 198\.51\.100\.5\/32 -p tcp -m tcp --dport 322 )/m, `${lines.join('\n')}\n$1`);
  const yaml = `# the lab's storage tier: GlusterFS between nfs1 and nfs2 and from the web servers, NFS from
# the web servers and the admin node, SSH and the agent from the admin node.
families: [ipv4]
default_policy: { INPUT: DROP, FORWARD: DROP }
hosts:
  admin: ${ADMIN_IP}
  web: [${web.join(', ')}]
  nfs: [${nfs.join(', ')}]
allow:
  - { name: nfs, port: 2049, from: [web, admin] }
  - { name: glusterd, port: "24007-24008", from: [nfs, web] }
  - { name: gluster bricks, port: "49152-60999", from: [nfs, web] }
  - { name: ssh, port: 322, from: admin }
  - { name: agent, port: 5666, from: admin }
`;
  return { rules, yaml };
}

/** The seed's firewall of a role (examples/hosting-cluster/iptables/ROLE.rules), plus VRRP from the peer. */
function firewall(node) {
  const v = NODES[node];
  let rules = readFileSync(join(EXAMPLE, 'iptables', `${v.role}.rules`), 'utf8')
    .split('\n')
    .filter((l) => !/-j LOG/.test(l)) // the lab's drops would fill the host's kernel log
    .join('\n');
  // keepalived instead of Heartbeat in the lab: VRRP (protocol 112) from the peer only.
  if (v.peer) rules = rules.replace(/^COMMIT$/m, `-A INPUT -s ${v.peer}/32 -p vrrp -j ACCEPT\nCOMMIT`);
  const storage = v.role === 'nfs' ? storageFirewall(rules) : null;
  if (storage) rules = storage.rules;
  write(join(dirOf(node), 'iptables.rules'), rules);
  nsx(node, 'iptables-restore', [join(dirOf(node), 'iptables.rules')]);
  if (storage) write(join(dirOf(node), 'iptables.yaml'), storage.yaml);
  else copyFileSync(join(EXAMPLE, 'iptables', `${v.role}.yaml`), join(dirOf(node), 'iptables.yaml'));
  chmodSync(join(dirOf(node), 'iptables.yaml'), 0o644);
}

// ---------------------------------------------------------------------------------------------
// daemons

function makePki() {
  const d = join(STATE_DIR, 'pki');
  mkdirSync(d, { recursive: true, mode: 0o755 });
  const ssl = (args) => sh('openssl', args, { env: { ...process.env, OPENSSL_CONF: '/dev/null' } });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl(['req', '-x509', ...ec, '-keyout', join(d, 'ca.key'), '-out', join(d, 'ca.crt'), '-subj', '/CN=hawatch lab CA', '-days', '7']);
  const cert = (name, ext) => {
    write(join(d, `${name}.ext`), ext);
    ssl(['req', ...ec, '-keyout', join(d, `${name}.key`), '-out', join(d, `${name}.csr`), '-subj', `/CN=${name}`]);
    ssl(['x509', '-req', '-in', join(d, `${name}.csr`), '-CA', join(d, 'ca.crt'), '-CAkey', join(d, 'ca.key'), '-CAcreateserial', '-out', join(d, `${name}.crt`), '-extfile', join(d, `${name}.ext`), '-days', '7']);
  };
  // One agent certificate for every node's address (a lab shortcut; production has one per node).
  cert('agent', `subjectAltName=${Object.values(NODES).map((n) => `IP:${n.ip}`).join(',')}\nextendedKeyUsage=serverAuth\n`);
  cert('admin', `subjectAltName=IP:${ADMIN_IP}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  for (const f of readdirSync(d)) chmodSync(join(d, f), f.endsWith('.key') ? 0o640 : 0o644);
  const nagios = userIds('nagios');
  for (const f of readdirSync(d)) if (f.endsWith('.key')) chownSync(join(d, f), 0, nagios.gid);
}

function userIds(name) {
  const uid = Number(sh('id', ['-u', name]).trim());
  const gid = Number(sh('id', ['-g', name]).trim());
  return { uid, gid };
}

function keepalived(node) {
  const v = NODES[node];
  const d = dirOf(node);
  const vip = VIPS[v.role];
  copyFileSync(join(ROOT, 'plugins', 'keepalived', 'hawatch-keepalived-notify.sh'), join(d, 'notify.sh'));
  chmodSync(join(d, 'notify.sh'), 0o755);
  write(join(d, 'keepalived.conf'), `global_defs {
  router_id lab_${node}
  enable_script_security
  script_user root
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id ${v.role === 'lb' ? 51 : 52}
  priority ${v.prio}
  advert_int 1
  unicast_src_ip ${v.ip}
  unicast_peer {
    ${v.peer}
  }
  virtual_ipaddress {
    ${vip}/24 dev eth0
  }
  notify "${join(d, 'notify.sh')} -f ${join(d, 'vrrp.state')}"
}
`);
  daemon(`keepalived-${node}`, node, 'keepalived', ['-f', join(d, 'keepalived.conf'), '-n', '-l', '-D', '-P', '-p', join(d, 'keepalived.pid'), '-r', join(d, 'vrrp.pid')], { env: { TMPDIR: d } });
}

function haproxy(node) {
  const d = dirOf(node);
  write(join(d, 'haproxy.cfg'), `global
  log stdout format raw local0
  stats socket ${join(d, 'haproxy.sock')} mode 666 level user
  maxconn 256
defaults
  mode http
  log global
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend fe_www
  bind :80
  default_backend be_web
backend be_web
  option httpchk GET /healthz
  server web1 ${NODES.web1.ip}:80 check inter 1s fall 2 rise 2
  server web2 ${NODES.web2.ip}:80 check inter 1s fall 2 rise 2
`);
  // stdout is the log the agent's tail watcher reads (HAProxy's "Server be_web/web1 is DOWN").
  daemon(`haproxy-${node}`, node, 'haproxy', ['-db', '-f', join(d, 'haproxy.cfg')]);
}

function nginx(node) {
  const d = dirOf(node);
  mkdirSync(join(d, 'nginx-tmp'), { recursive: true });
  write(join(d, 'nginx.conf'), `daemon off;
master_process on;
worker_processes 1;
user nobody nogroup;
pid ${join(d, 'nginx.pid')};
error_log ${join(d, 'nginx-error.log')} warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${join(d, 'nginx-tmp')};
  proxy_temp_path ${join(d, 'nginx-tmp')};
  fastcgi_temp_path ${join(d, 'nginx-tmp')};
  uwsgi_temp_path ${join(d, 'nginx-tmp')};
  scgi_temp_path ${join(d, 'nginx-tmp')};
  server {
    listen 80;
    location = /healthz { return 200 "ok\\n"; }
    location / { return 200 "${node}\\n"; }
  }
}
`);
  daemon(`nginx-${node}`, node, 'nginx', ['-p', d, '-c', join(d, 'nginx.conf')]);
}

const MYSQL_FAST = ['--innodb-buffer-pool-size=16M', '--innodb-log-file-size=8M', '--innodb-data-file-path=ibdata1:10M:autoextend', '--innodb-flush-log-at-trx-commit=0', '--sync-binlog=0', '--skip-name-resolve', '--performance-schema=OFF', '--max-connections=40', '--key-buffer-size=1M', '--aria-pagecache-buffer-size=1M'];

function mariadbInit(node) {
  const d = join(dirOf(node), 'mysql');
  mkdirSync(d, { recursive: true });
  const my = userIds('mysql');
  chownSync(d, my.uid, my.gid);
  return new Promise((resolveP, reject) => {
    // Its own tmpdir: the bootstrap's temporary tables in the shared /tmp failed now and then
    // (Could not remove temporary table, Unknown table mysql.tmp_user_sys) with other jobs running.
    const p = spawn('mariadb-install-db', ['--no-defaults', `--datadir=${join(d, 'data')}`, '--user=mysql', '--auth-root-authentication-method=normal', '--skip-test-db', `--tmpdir=${d}`, ...MYSQL_FAST], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (c) => (out += c));
    p.stderr.on('data', (c) => (out += c));
    const t = setTimeout(() => p.kill('SIGKILL'), 120_000);
    p.on('exit', (code) => {
      clearTimeout(t);
      if (code === 0) resolveP();
      else reject(new Error(`mariadb-install-db for ${node} failed (${code}): ${out.split('\n').filter((l) => /error|denied|can't|cannot/i.test(l)).slice(0, 5).join(' / ') || out.slice(-600)}`));
    });
  });
}

function mariadb(node) {
  const v = NODES[node];
  const d = join(dirOf(node), 'mysql');
  daemon(`mariadb-${node}`, node, '/usr/sbin/mariadbd', [
    '--no-defaults', `--datadir=${join(d, 'data')}`, `--socket=${join(d, 'mysqld.sock')}`, '--port=3306', '--bind-address=0.0.0.0',
    `--server-id=${v.serverId}`, '--user=mysql', `--pid-file=${join(d, 'mysqld.pid')}`, `--log-error=${join(d, 'error.log')}`,
    '--log-bin=mysql-bin', '--log-slave-updates', `--gtid-domain-id=${v.serverId}`, '--auto-increment-increment=2', `--auto-increment-offset=${v.serverId}`,
    '--slave-net-timeout=10', ...MYSQL_FAST,
  ]);
}

const sql = (node, query) => nsx(node, 'mariadb', ['--no-defaults', `--socket=${join(dirOf(node), 'mysql', 'mysqld.sock')}`, '-uroot', '-N', '-B', '-e', query], { timeoutMs: 20_000 });

async function mariadbPair() {
  await waitFor('both MariaDB servers to answer', () => ['db1', 'db2'].every((n) => { try { sql(n, 'SELECT 1'); return true; } catch { return false; } }), 60_000, 500);
  for (const n of ['db1', 'db2']) {
    // Users without binlog events: each side makes its own, nothing to replicate twice.
    sql(n, ["SET sql_log_bin=0", "CREATE USER 'repl'@'192.0.2.%' IDENTIFIED BY 'lab-repl-pass'", "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'192.0.2.%'",
      "CREATE USER 'monitor'@'127.0.0.1' IDENTIFIED BY 'lab-monitor-pass'", "GRANT SLAVE MONITOR, BINLOG MONITOR, PROCESS, REPLICATION CLIENT ON *.* TO 'monitor'@'127.0.0.1'",
      'SET sql_log_bin=1'].join(';'));
    write(join(dirOf(n), 'mysql.cnf'), '[client]\nuser = monitor\npassword = lab-monitor-pass\n', 0o640);
    chownSync(join(dirOf(n), 'mysql.cnf'), 0, userIds('nagios').gid);
  }
  for (const n of ['db1', 'db2']) {
    sql(n, `CHANGE MASTER TO MASTER_HOST='${NODES[n].peer}', MASTER_PORT=3306, MASTER_USER='repl', MASTER_PASSWORD='lab-repl-pass', MASTER_USE_GTID=current_pos, MASTER_CONNECT_RETRY=1; START SLAVE`);
  }
  // Writes on the VIP holder side replicate to the other: a table both see proves both directions.
  sql('db1', 'CREATE DATABASE lab; CREATE TABLE lab.t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20)); INSERT INTO lab.t (v) VALUES (\'from db1\')');
  await waitFor('db2 to replicate from db1', () => sql('db2', 'SELECT COUNT(*) FROM lab.t').trim() === '1', 30_000, 500);
  sql('db2', "INSERT INTO lab.t (v) VALUES ('from db2')");
  await waitFor('db1 to replicate from db2', () => sql('db1', 'SELECT COUNT(*) FROM lab.t').trim() === '2', 30_000, 500);
  // Active-passive writes, as the seed: only db1 (the VIP holder) is writable.
  sql('db2', 'SET GLOBAL read_only = 1');
}

// ---------------------------------------------------------------------------------------------
// storage: a GlusterFS pool of two peers (as test/plugins/gluster/gluster-env.ts does it)

/**
 * glusterd keeps its state in fixed places (/var/lib/glusterd, /var/log/glusterfs, /run):
 * each peer gets its own mount and UTS namespace inside its network namespace, with its own
 * directories bind-mounted there. The holder (sh, then sleep) keeps that mount namespace
 * while glusterd restarts; its pid is in NODE/gluster/holder.pid, and the node's agent runs
 * inside the same namespaces (nsenter), so the gluster CLI of its check reaches this glusterd.
 * glusterd daemonizes out of the holder's process group: `down` finds it, the bricks and the
 * self-heal daemon by the network namespace (ip netns pids sees every mount namespace).
 */
function glusterd(node) {
  const g = join(dirOf(node), 'gluster');
  for (const d of ['lib', 'log', 'run', 'brick', 'arbiter', 'mnt']) mkdirSync(join(g, d), { recursive: true, mode: 0o755 });
  // The packaged hooks and groups, without glusterd.info: each peer makes its own UUID.
  sh('cp', ['-a', '/var/lib/glusterd/.', join(g, 'lib')]);
  rmSync(join(g, 'lib', 'glusterd.info'), { force: true });
  // Its own name resolves (sudo looks it up on every run, and waits for DNS that is not there).
  write(join(g, 'hosts'), `${readFileSync('/etc/hosts', 'utf8')}\n127.0.1.1 ${node}\n${Object.entries(NODES).map(([n, v]) => `${v.ip} ${n}`).join('\n')}\n`);
  const binds = [];
  // Every gluster CLI run first asks gsyncd --version (to offer the geo-replication commands):
  // a Python start, 0.8 s of CPU measured, 5 per check, 2 checks every 3 s on a shared 2-core
  // machine. Inside the storage nodes only, that one question is answered from the real
  // answer taken at up(); anything else goes to the real gsyncd.py. Geo-replication is unused.
  if (GSYNCD.version) {
    write(join(g, 'gsyncd'), `#!/bin/sh\n# hawatch lab: the answer of the real gsyncd --version, without starting Python\nif [ "$#" = 1 ] && [ "$1" = --version ]; then echo '${GSYNCD.version}'; exit 0; fi\nexec /usr/bin/python3 ${GSYNCD.py} "$@"\n`, 0o755);
    binds.push(`mount --bind ${g}/gsyncd ${GSYNCD.bin}`);
  }
  write(join(g, 'start.sh'), [
    'set -e',
    `hostname ${node}`,
    `mount --bind ${g}/hosts /etc/hosts`,
    ...binds,
    `mount --bind ${g}/lib /var/lib/glusterd`,
    `mount --bind ${g}/log /var/log/glusterfs`,
    `mount --bind ${g}/run /run`,
    `echo $$ > ${g}/holder.pid`,
    '/usr/sbin/glusterd -p /run/glusterd.pid',
    'exec sleep infinity',
  ].join('\n') + '\n');
  daemon(`gluster-${node}`, node, 'unshare', ['-m', '-u', '--propagation', 'private', '--fork', 'sh', join(g, 'start.sh')]);
}

/** Where the gluster CLI finds gsyncd, and its answer to --version (read once, at up()). */
const GSYNCD = { bin: '/usr/lib/x86_64-linux-gnu/glusterfs/gsyncd', py: '/usr/lib/x86_64-linux-gnu/glusterfs/python/syncdaemon/gsyncd.py', version: '' };
function readGsyncdVersion() {
  if (!existsSync(GSYNCD.bin) || !existsSync(GSYNCD.py)) return;
  const v = sh(GSYNCD.bin, ['--version'], { ok: true }).trim();
  if (/^[\w.\- ]+$/.test(v)) GSYNCD.version = v;
}

function holderPid(node) {
  return Number(readFileSync(join(dirOf(node), 'gluster', 'holder.pid'), 'utf8').trim());
}

/** `gluster --mode=script ARGS` on a storage node, inside its namespaces. */
const gluster = (node, args, opts = {}) => sh('nsenter', ['-t', String(holderPid(node)), '-n', '-m', '-u', 'gluster', '--mode=script', ...args], { timeoutMs: 30_000, ...opts });

/** Both peers see each other connected, every brick is online and no entry waits for a heal. */
function volumeHealthy() {
  for (const n of ['nfs1', 'nfs2']) {
    if (!/Peer in Cluster \(Connected\)/.test(gluster(n, ['peer', 'status'], { ok: true }))) return false;
  }
  const st = gluster('nfs1', ['volume', 'status', VOLUME, '--xml'], { ok: true });
  const online = [...st.matchAll(/<node>[\s\S]*?<path>(\/[^<]*)<\/path>[\s\S]*?<status>(\d)<\/status>[\s\S]*?<\/node>/g)].filter((m) => m[2] === '1').length;
  if (online < 3) return false;
  const heal = gluster('nfs1', ['volume', 'heal', VOLUME, 'info', 'summary'], { ok: true });
  const totals = [...heal.matchAll(/Total Number of entries: (\d+)/g)].map((m) => Number(m[1]));
  return totals.length === 3 && totals.every((x) => x === 0);
}

async function glusterPool() {
  await waitFor('glusterd on nfs1 and nfs2', () => ['nfs1', 'nfs2'].every((n) => existsSync(join(dirOf(n), 'gluster', 'run', 'glusterd.socket')) && gluster(n, ['peer', 'status'], { ok: true }).includes('Number of Peers')), 60_000, 300);
  gluster('nfs1', ['peer', 'probe', NODES.nfs2.ip]);
  await waitFor('the peers connected', () => /Peer in Cluster \(Connected\)/.test(gluster('nfs1', ['peer', 'status'], { ok: true })) && /Peer in Cluster \(Connected\)/.test(gluster('nfs2', ['peer', 'status'], { ok: true })), 60_000, 500);
  // replica 2 alone splits the brain of / in the first partition (measured: both sides
  // marked it while cut off); the arbiter on nfs1 keeps the quorum on one side only.
  // `force`: the bricks are plain directories on the root file system.
  const b = (n, d) => `${NODES[n].ip}:${join(dirOf(n), 'gluster', d)}`;
  gluster('nfs1', ['volume', 'create', VOLUME, 'replica', '3', 'arbiter', '1', b('nfs1', 'brick'), b('nfs2', 'brick'), b('nfs1', 'arbiter'), 'force'], { timeoutMs: 60_000 });
  gluster('nfs1', ['volume', 'start', VOLUME], { timeoutMs: 60_000 });
  await waitFor(`volume ${VOLUME} healthy`, volumeHealthy, 60_000, 1000);
  // A client: the volume mounted (FUSE) on nfs1, in its mount namespace only. The fault writes
  // through it while nfs2 is cut off, so the heal has real work (and `down` a mount to end:
  // the namespace goes with its last process, the FUSE client killed by its network namespace).
  nsHolder('nfs1', ['mount', '-t', 'glusterfs', `${NODES.nfs1.ip}:/${VOLUME}`, mnt('nfs1')]);
  nsHolder('nfs1', ['sh', '-c', `echo lab > ${mnt('nfs1')}/first`]);
}

const mnt = (node) => join(dirOf(node), 'gluster', 'mnt');
/** A program inside a storage node's namespaces (network, mount, UTS). */
const nsHolder = (node, args, opts = {}) => sh('nsenter', ['-t', String(holderPid(node)), '-n', '-m', '-u', ...args], { timeoutMs: 30_000, ...opts });

/** The agent configuration: the seed's role file (examples/hosting-cluster/agent/ROLE.cfg), adapted. */
function agentConfig(node) {
  const v = NODES[node];
  const d = dirOf(node);
  const pki = join(STATE_DIR, 'pki');
  const seed = readFileSync(join(EXAMPLE, 'agent', `${v.role}.cfg`), 'utf8').split('\n');
  // Keep the seed's settings (port, allowed hosts, user, TLS both ways); the paths become the lab's.
  const keep = seed.filter((l) => /^[a-z_]+=/.test(l)).map((l) => l
    .replace(/^ssl_cert_file=.*/, `ssl_cert_file=${pki}/agent.crt`)
    .replace(/^ssl_privatekey_file=.*/, `ssl_privatekey_file=${pki}/agent.key`)
    .replace(/^ssl_cacert_file=.*/, `ssl_cacert_file=${pki}/ca.crt`)
    .replace(/^command_timeout=.*/, 'command_timeout=15'));
  const P = (name) => join(BIN, `${name}.cjs`);
  const node_ = process.execPath;
  const cmds = [];
  const add = (cmd, line, service, watch, match) => {
    cmds.push(`command[${cmd}]=${line}`);
    if (watch) cmds.push(`hawatch_watch[${cmd}]=${watch}`);
    if (match) cmds.push(`hawatch_watch_match[${cmd}]=${match}`);
    cmds.push(`hawatch_push_service[${cmd}]=${service}`);
  };
  // Every node: its firewall against the seed's policy. iptables here is iptables-nft: every
  // rule or policy change, by iptables, ip6tables or nft, is an nftables event in the node's
  // network namespace, which `nft monitor` prints as it happens (a 3 s poll of ten nodes kept
  // half a core busy). Only the changes count, not the "# new generation" line after each.
  add('check_iptables', `${node_} ${P('check_ha_iptables')} --sudo -P ${d}/iptables.yaml`, 'firewall', '/usr/bin/sudo -n /usr/sbin/nft monitor', '^(add|insert|replace|delete|destroy|flush) ');
  if (v.role === 'lb' || v.role === 'db') {
    // keepalived's notify script rewrites the state file on every transition: run at once.
    add('check_vip', `${node_} ${P('check_ha_vip')} --vip ${VIPS[v.role]} --no-dad -p ${v.role === 'lb' ? 80 : 3306}`, 'vip', `file:${d}/vrrp.state`);
  }
  if (v.role === 'lb') {
    add('check_haproxy', `${node_} ${P('check_ha_haproxy')} -S ${d}/haproxy.sock -b be_web`, 'haproxy', `tail:${STATE_DIR}/logs/haproxy-${node}.log`, 'is (UP|DOWN)|no server available');
  }
  if (v.role === 'web') {
    add('check_http', `${MP}/check_http -I 127.0.0.1 -u /healthz -e 200 -t 3`, 'nginx', 'poll:1');
  }
  if (v.role === 'db') {
    add('check_mysql', `${node_} ${P('check_ha_mysql')} -H ${node}=127.0.0.1:3306 --defaults-file ${d}/mysql.cnf -w 30 -c 120 -t 5`, 'mysql', 'poll:2');
  }
  if (v.role === 'nfs') {
    // Its own trend file: the default under /tmp would be shared by both peers' agents.
    const st = join(d, 'gluster-state');
    mkdirSync(st, { recursive: true });
    const nagios = userIds('nagios');
    chownSync(st, nagios.uid, nagios.gid);
    chmodSync(st, 0o700);
    // glusterd logs each peer and brick coming and going: its log is the watch (a 3 s poll
    // cost 0.9 s of CPU per run on each peer). The log is root's, mode 0600: read through sudo
    // with the exact arguments pinned. Both peers check the volume: each sees the other go;
    // their volume commands may meet on the cluster lock, which the check waits out.
    add('check_gluster', `${node_} ${P('check_ha_gluster')} --sudo --volume ${VOLUME} --state-dir ${st} -t 12`, 'gluster', `/usr/bin/sudo -n ${glusterdLogTail(node).join(' ')}`, GLUSTERD_CHANGE);
  }
  write(join(d, 'push.token'), `lab-push-${node}-0123456789abcdef\n`, 0o640);
  chownSync(join(d, 'push.token'), 0, userIds('nagios').gid);
  write(join(d, 'agent.cfg'), [
    `# hawatch lab: ${node}, from examples/hosting-cluster/agent/${v.role}.cfg (lab paths, lab checks: keepalived instead of Pacemaker)`,
    ...keep,
    `pid_file=${d}/agent.pid`,
    'hawatch_watch_stat_interval=0.5',
    `hawatch_push_url=https://${ADMIN_IP}:${SERVER_PORT}/api/v1/results`,
    `hawatch_push_ca_file=${pki}/ca.crt`,
    `hawatch_push_token_file=${d}/push.token`,
    `hawatch_push_host=${node}`,
    'hawatch_push_retry_max=2',
    ...cmds,
  ].join('\n') + '\n');
}

function inventory() {
  const pki = join(STATE_DIR, 'pki');
  const hostLines = [];
  for (const [tier, a] of Object.entries(TIER_SW)) {
    hostLines.push(`  ${tier}-sw: { address: ${a}, check: "${MP}/check_ping -H $HOSTADDRESS$ -w 200,50% -c 500,80% -p 1 -t 2", check_interval: 3s, retry_interval: 1s, max_check_attempts: 2, contact_groups: [${Object.values(NODES).find((v) => v.role === tier).group}] }`);
  }
  for (const [node, v] of Object.entries(NODES)) {
    hostLines.push(`  ${node}: { address: ${v.ip}, check_interval: 3s, retry_interval: 1s, max_check_attempts: 2, timeout: 3s, nrpe: { port: 5666, tls: { ca_file: ${pki}/ca.crt, cert_file: ${pki}/admin.crt, key_file: ${pki}/admin.key } }, parents: [${v.role}-sw], contact_groups: [${v.group}], push_token_file: ${dirOf(node)}/push.token }`);
  }
  const confirm = 'confirm: { results: 2, within: 5s }';
  return `# hawatch lab inventory: examples/hosting-cluster/inventory.yaml with the lab's addresses and checks
# (keepalived instead of Pacemaker, HAProxy in front of the webs, GlusterFS instead of DRBD), fast timing.
server:
  listen: ${ADMIN_IP}:${SERVER_PORT}
  database: ${STATE_DIR}/admin/hawatch.db
  tls: { cert_file: ${pki}/admin.crt, key_file: ${pki}/admin.key }
  max_concurrent_checks: 8
  title: hawatch lab

defaults:
  check_interval: 10s
  retry_interval: 2s
  # Three attempts for services (hosts have two, checked every 3 s): a node the admin node
  # cannot reach must be judged DOWN or UNREACHABLE before its services' timeouts go HARD.
  # Pushed problems do not wait for them: confirm makes 2 results within 5 s enough.
  max_check_attempts: 3
  notification_interval: 0
  # Short: an unreachable node must fail its checks (and be judged UNREACHABLE) within seconds.
  timeout: 4s
  # The lab injects fault after fault into the same objects within minutes: that is flapping
  # by Nagios' definition, and would hold the notifications the run counts.
  flap_detection: false

notifications:
  email:
    smtp: { host: 127.0.0.1, port: ${SMTP_PORT}, security: none, timeout: 5s }
    from: hawatch@admin.lab.invalid
  sms:
    http:
      url: http://127.0.0.1:${SMS_PORT}/send
      body: '{"to": {{number}}, "text": {{message}}}'
  group_window: 0s
  retry: { initial: 1s, max: 5s }

contacts:
  oncall: { email: oncall@lab.invalid, sms: "+49 151 0000001", sms_via: http, service_notification_options: [c, r], host_notification_options: [d, r] }
  webteam: { email: web@lab.invalid }
  dbteam: { email: dba@lab.invalid }
  storage: { email: storage@lab.invalid }
contact_groups:
  lb-admins: [oncall, webteam]
  web-admins: [webteam]
  db-admins: [oncall, dbteam]
  storage-admins: [oncall, storage]

hosts:
${hostLines.join('\n')}
  admin: { local: true, contact_groups: [lb-admins] }

services:
  - { name: firewall, hosts: [${Object.keys(NODES).join(', ')}], command: check_iptables, ${confirm} }
  - { name: vip, hosts: [lb1, lb2, db1, db2], command: check_vip, ${confirm} }
  # One backend down is WARNING (seen on the page); no backend at all pages.
  - { name: haproxy, hosts: [lb1, lb2], command: check_haproxy, notification_options: [c, r], ${confirm} }
  - { name: nginx, hosts: [web1, web2], command: check_http, ${confirm} }
  - { name: mysql, hosts: [db1, db2], command: check_mysql, ${confirm} }
  # Five gluster commands per check, each taking the cluster lock the other peer's check may hold.
  - { name: gluster, hosts: [nfs1, nfs2], command: check_gluster, timeout: 15s, ${confirm} }

cluster_rules:
  - { name: one www owner, kind: exactly_one, role: vip_owned, service: vip, hosts: [lb1, lb2], hold_down: { results: 2, time: 3s }, retry_interval: 1s }
  - { name: one db owner, kind: exactly_one, role: vip_owned, service: vip, hosts: [db1, db2], hold_down: { results: 2, time: 3s }, retry_interval: 1s }
  # Each node reports its own server's dbN_writable: exactly one writable (active-passive).
  - { name: one writable mysql, kind: exactly_one, role: "*_writable", service: mysql, hosts: [db1, db2], hold_down: { results: 2, time: 3s }, retry_interval: 1s }
  # The seed's nfs pair agrees (nodes online as each Pacemaker sees them), for the gluster pool:
  # both peers count the same connected peers (one that still sees the other while the other
  # does not is a half-cut link). Not on UNKNOWN: no value known is both members failing, and
  # each of them pages for itself.
  - { name: nfs pair agrees, kind: all_agree, value: { perfdata: peers_connected }, service: gluster, hosts: [nfs1, nfs2], hold_down: { results: 2, time: 3s }, retry_interval: 1s, notification_options: [c, r] }

`;
}

async function curlApi(path) {
  const out = sh('ip', ['netns', 'exec', ADMIN_NS, 'curl', '-sS', '--max-time', '5', '--cacert', join(STATE_DIR, 'pki', 'ca.crt'), `https://${ADMIN_IP}:${SERVER_PORT}${path}`], { timeoutMs: 10_000 });
  return JSON.parse(out);
}

/** Every object's key, state, stateType and whether it was checked, from the server's API. */
export async function status() {
  const r = await curlApi('/api/v1/status?limit=1000');
  return r.objects.map((o) => ({ key: o.key, state: o.state, stateType: o.stateType, checked: o.checked, output: String(o.output ?? '').slice(0, 120) }));
}

// ---------------------------------------------------------------------------------------------
// up / down

export async function up() {
  if (existsSync(STATE_DIR) || labNamespaces().length) throw new Error(`lab: ${STATE_DIR} or namespaces ${PREFIX}-* exist already: run npm run lab -- down first`);
  if (!existsSync(join(BIN, 'hawatch-server.cjs'))) throw new Error('lab: dist/bin/hawatch-server.cjs is missing: run npm run build first');
  if (process.getuid?.() !== 0) throw new Error('lab: must run as root (namespaces, iptables, daemons)');
  for (const p of ['ip', 'iptables', 'unshare', 'nsenter', 'ss', '/usr/sbin/glusterd', 'gluster', 'keepalived', 'haproxy', 'nginx', '/usr/sbin/mariadbd', 'mariadb-install-db', 'curl', 'openssl', 'sudo', `${MP}/check_http`, `${MP}/check_ping`]) {
    if (spawnSync('sh', ['-c', `command -v ${p}`]).status !== 0) throw new Error(`lab: ${p} is missing: install it (see .ci/packages/lab.txt)`);
  }
  const t0 = Date.now();
  // The daemons run as mysql, nobody, nagios: what the lab writes must be readable by them,
  // whatever umask the caller has (a test runner's may be 077).
  process.umask(0o022);
  mkdirSync(STATE_DIR, { recursive: true, mode: 0o755 });
  chmodSync(STATE_DIR, 0o755);
  for (const d of ['pids', 'logs', 'admin', ...Object.keys(NODES)]) mkdirSync(join(STATE_DIR, d), { recursive: true, mode: 0o755 });
  chmodSync(join(STATE_DIR, 'logs'), 0o755);
  writeFileSync(join(STATE_DIR, 'lab.json'), JSON.stringify({ prefix: PREFIX, startedAt: Date.now(), pid: process.pid }) + '\n');
  // The checks run as nagios; check_ha_iptables reads the ruleset through sudo (the seed's rule).
  // check_ha_gluster --sudo: the gluster commands of its README, pinned to the lab's volume.
  const gl = ['peer status --xml', 'volume info --xml', `volume status ${VOLUME} --xml`, `volume heal ${VOLUME} info summary --xml`, `volume heal ${VOLUME} statistics heal-count`].map((c) => `nagios ALL=(root) NOPASSWD: /usr/sbin/gluster --mode=script ${c}\n`).join('');
  // The watchers: nft monitor (every node's firewall), the storage peers' glusterd logs.
  const tails = Object.keys(NODES).filter((n) => NODES[n].role === 'nfs').map((n) => `nagios ALL=(root) NOPASSWD: ${glusterdLogTail(n).join(' ')}\n`).join('');
  write(SUDOERS, `# hawatch lab ${PREFIX}: removed by npm run lab -- down\nDefaults:nagios !requiretty, !lecture\nnagios ALL=(root) NOPASSWD: /usr/sbin/iptables-save "", /usr/sbin/ip6tables-save "", /usr/sbin/nft -j list ruleset, /usr/sbin/nft monitor\n${gl}${tails}`, 0o440);
  const vs = spawnSync('visudo', ['-c', '-f', SUDOERS], { encoding: 'utf8' });
  if (vs.status !== 0) throw new Error(`lab: the sudoers rule does not pass visudo -c: ${vs.stderr}`);
  makeNetwork();
  makePki();
  for (const node of Object.keys(NODES)) firewall(node);
  log('network and firewalls up');
  readGsyncdVersion();
  for (const n of ['nfs1', 'nfs2']) glusterd(n);
  await Promise.all(['db1', 'db2'].map(mariadbInit));
  for (const n of ['db1', 'db2']) mariadb(n);
  for (const n of ['web1', 'web2']) nginx(n);
  for (const n of ['lb1', 'lb2']) { haproxy(n); keepalived(n); }
  for (const n of ['db1', 'db2']) keepalived(n);
  await mariadbPair();
  log('MariaDB master-master replicating both ways');
  await glusterPool();
  log(`GlusterFS volume ${VOLUME} on nfs1 and nfs2 (replica 3 arbiter 1) healthy`);
  // Receivers and server on the admin node.
  writeFileSync(join(STATE_DIR, 'mail.jsonl'), '');
  writeFileSync(join(STATE_DIR, 'sms.jsonl'), '');
  daemon('receivers', ADMIN_NS, process.execPath, [join(ROOT, 'scripts', 'lab', 'receivers.mjs'), String(SMTP_PORT), String(SMS_PORT), join(STATE_DIR, 'mail.jsonl'), join(STATE_DIR, 'sms.jsonl')], { cwd: ROOT });
  write(paths().inventory, inventory());
  const chk = spawnSync(process.execPath, [join(BIN, 'hawatch-server.cjs'), 'check', '--config', paths().inventory], { encoding: 'utf8' });
  if (chk.status !== 0) throw new Error(`lab: the lab inventory does not pass check: ${chk.stderr}${chk.stdout}`);
  for (const node of Object.keys(NODES)) agentConfig(node);
  await waitFor('the VIP holders (lb1, db1 MASTER)', () => ['lb1', 'db1'].every((n) => /MASTER/.test(tail(join(dirOf(n), 'vrrp.state')))), 30_000);
  // Agents first: a server that starts before them would see every node DOWN. Their first
  // pushes wait in their queues until the server answers.
  for (const node of Object.keys(NODES)) {
    const agent = [process.execPath, join(BIN, 'hawatch-agent.cjs'), '-c', join(dirOf(node), 'agent.cfg')];
    // A storage node's agent lives in its glusterd's mount namespace (the CLI's /run/glusterd.socket).
    if (NODES[node].role === 'nfs') daemon(`agent-${node}`, node, 'nsenter', ['-t', String(holderPid(node)), '-m', '-u', ...agent]);
    else daemon(`agent-${node}`, node, agent[0], agent.slice(1));
  }
  await waitFor('every agent to listen on 5666', () => Object.keys(NODES).every((n) => /:5666\b/.test(nsx(n, 'ss', ['-Hltn', 'sport', '=', ':5666'], { ok: true }))), 30_000, 300);
  daemon('server', ADMIN_NS, process.execPath, [join(BIN, 'hawatch-server.cjs'), '--config', paths().inventory, '--log-level', 'warn'], { env: { HAWATCH_API_TOKEN: API_TOKEN } });
  await waitFor('hawatch-server to answer over https', () => curlApi('/healthz').then((r) => r.ok === true), 30_000, 500);
  log(`all daemons started in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return paths();
}

function tail(file) {
  try {
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    return lines[lines.length - 1] ?? '';
  } catch {
    return '';
  }
}

/** Waits until every object is checked and OK, and no notification went out since `since` lines. */
/** The lab's daemons (pid files) that are no longer running: every one of them lives for the whole lab. */
export function deadDaemons() {
  const pidDir = join(STATE_DIR, 'pids');
  if (!existsSync(pidDir)) return [];
  return readdirSync(pidDir).filter((f) => f.endsWith('.pid')).map((f) => f.replace(/\.pid$/, '')).filter((n) => {
    const pid = Number(readFileSync(join(pidDir, `${n}.pid`), 'utf8').trim());
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  });
}

export async function waitHealthy(timeoutMs = 120_000) {
  let last = [];
  // A dead daemon (the receivers, a server) makes every later count wrong: say so at once.
  const dead = deadDaemons();
  if (dead.length) throw new Error(`lab daemons died: ${dead.join(', ')} (their logs: ${join(STATE_DIR, 'logs')})`);
  try {
    await waitFor('every object OK', async () => {
      last = await status();
      return last.length > 0 && last.every((o) => o.checked && o.state === 0);
    }, timeoutMs, 1000);
  } catch (e) {
    const bad = last.filter((o) => !o.checked || o.state !== 0).map((o) => `${o.key}=${o.checked ? o.state : 'unchecked'} ${o.output}`);
    throw new Error(`${e.message}; not OK: ${bad.join(' | ')}`);
  }
}

export async function down() {
  const pidDir = join(STATE_DIR, 'pids');
  if (existsSync(pidDir)) {
    // Agents and the server first (they would report the others going), then the rest.
    const names = readdirSync(pidDir).map((f) => f.replace(/\.pid$/, ''));
    const order = [...names.filter((n) => n.startsWith('agent-') || n === 'server'), ...names.filter((n) => !(n.startsWith('agent-') || n === 'server'))];
    await Promise.all(order.filter((n) => n.startsWith('agent-') || n === 'server').map((n) => stopDaemon(n, 'SIGTERM', 5000)));
    await Promise.all(order.filter((n) => !(n.startsWith('agent-') || n === 'server')).map((n) => stopDaemon(n, 'SIGTERM', 8000)));
  }
  // Whatever still runs inside a lab namespace (a daemon the pid files missed): those are ours.
  for (const n of labNamespaces()) {
    const pids = sh('ip', ['netns', 'pids', n], { ok: true }).split('\n').map(Number).filter((p) => p > 1);
    for (const p of pids) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
  }
  for (const n of labNamespaces()) {
    const end = Date.now() + 5000;
    while (sh('ip', ['netns', 'pids', n], { ok: true }).trim() && Date.now() < end) await sleep(100);
    sh('ip', ['netns', 'del', n], { ok: true });
  }
  rmSync(SUDOERS, { force: true });
  rmSync(STATE_DIR, { recursive: true, force: true });
  const left = labNamespaces();
  if (left.length) throw new Error(`lab: namespaces left after down: ${left.join(', ')}`);
}

// ---------------------------------------------------------------------------------------------
// faults

const cutAddrs = {
  lb: [VIPS.lb, NODES.lb1.ip, NODES.lb2.ip, TIER_SW.lb],
  web: [NODES.web1.ip, NODES.web2.ip, TIER_SW.web],
  db: [VIPS.db, NODES.db1.ip, NODES.db2.ip, TIER_SW.db],
};

/** The object is in a HARD state: 1 DOWN, 2 UNREACHABLE for hosts. */
const hard = (st, key, state) => st.some((o) => o.key === key && o.state === state && o.stateType === 'HARD');

/**
 * The faults. expect: notifications by mail (one per contact and problem) and SMS, for the
 * problem (after inject) and the recovery (after heal). Counted exactly by run().
 */
export const FAULTS = {
  'vip-holder-keepalived': {
    what: 'keepalived of the www VIP holder (lb1) stopped: lb2 takes the VIP',
    expect: { mail: 0, sms: 0, recoveryMail: 0, recoverySms: 0 },
    // No notification, but an informational notice: FAILOVER events in the rule's history
    // (lb1 to lb2 at the fault, back at the heal).
    notice: { key: 'cluster/one www owner', failovers: 2 },
    // No notification is expected: run() waits this long for mail that must not come.
    quietMs: 15_000,
    inject: async () => {
      await stopDaemon('keepalived-lb1', 'SIGTERM', 8000);
      await waitFor('lb2 to take the VIP', () => /MASTER/.test(tail(join(dirOf('lb2'), 'vrrp.state'))), 15_000);
    },
    heal: async () => {
      keepalived('lb1');
      await waitFor('lb1 to take the VIP back', () => /MASTER/.test(tail(join(dirOf('lb1'), 'vrrp.state'))) && /BACKUP/.test(tail(join(dirOf('lb2'), 'vrrp.state'))), 20_000);
    },
  },
  'vrrp-split-brain': {
    what: 'VRRP blocked between lb1 and lb2: both MASTER, both hold the VIP',
    // cluster/one www owner CRITICAL to lb-admins (oncall, webteam) and its recovery.
    expect: { mail: 2, sms: 1, recoveryMail: 2, recoverySms: 1 },
    inject: async () => { nsx('lb2', 'iptables', ['-I', 'INPUT', '1', '-s', NODES.lb1.ip, '-p', 'vrrp', '-j', 'DROP']); },
    heal: async () => {
      nsx('lb2', 'iptables', ['-D', 'INPUT', '-s', NODES.lb1.ip, '-p', 'vrrp', '-j', 'DROP']);
      await waitFor('lb2 back to BACKUP', () => /BACKUP/.test(tail(join(dirOf('lb2'), 'vrrp.state'))), 15_000);
    },
  },
  'web-backend-killed': {
    what: 'nginx on web1 killed (HAProxy goes on with web2)',
    // web1/nginx CRITICAL to webteam; the LBs' haproxy WARNING pages nobody.
    expect: { mail: 1, sms: 0, recoveryMail: 1, recoverySms: 0 },
    inject: async () => { await stopDaemon('nginx-web1', 'SIGKILL', 3000); },
    heal: async () => { nginx('web1'); },
  },
  'all-backends-killed': {
    what: 'nginx on web1 and web2 killed: the site is down',
    // web1/nginx, web2/nginx to webteam; lb1/haproxy, lb2/haproxy CRITICAL to oncall and webteam.
    expect: { mail: 6, sms: 2, recoveryMail: 6, recoverySms: 2 },
    inject: async () => { await Promise.all([stopDaemon('nginx-web1', 'SIGKILL', 3000), stopDaemon('nginx-web2', 'SIGKILL', 3000)]); },
    heal: async () => { nginx('web1'); nginx('web2'); },
  },
  'replication-stopped': {
    what: 'replication db1 to db2 stopped (STOP SLAVE on db2)',
    // db2/mysql CRITICAL to db-admins (oncall, dbteam).
    expect: { mail: 2, sms: 1, recoveryMail: 2, recoverySms: 1 },
    inject: async () => { sql('db2', 'STOP SLAVE'); },
    heal: async () => { sql('db2', 'START SLAVE'); },
  },
  'both-db-writable': {
    what: 'read_only switched off on db2 too: both servers of the active-passive pair take writes',
    // cluster/one writable mysql to db-admins (oncall, dbteam).
    expect: { mail: 2, sms: 1, recoveryMail: 2, recoverySms: 1 },
    inject: async () => { sql('db2', 'SET GLOBAL read_only = 0'); },
    heal: async () => { sql('db2', 'SET GLOBAL read_only = 1'); },
  },
  'db-firewall-opened': {
    what: 'MySQL opened to everyone on db1 (iptables ACCEPT for port 3306)',
    expect: { mail: 2, sms: 1, recoveryMail: 2, recoverySms: 1 },
    inject: async () => { nsx('db1', 'iptables', ['-I', 'INPUT', '1', '-p', 'tcp', '--dport', '3306', '-j', 'ACCEPT']); },
    heal: async () => { nsx('db1', 'iptables', ['-D', 'INPUT', '-p', 'tcp', '--dport', '3306', '-j', 'ACCEPT']); },
  },
  'node-isolated': {
    what: 'web2 isolated (its link down): host DOWN, its services suppressed',
    // web2 DOWN to webteam (host: d, r); the LBs see one backend down: WARNING, not paged.
    expect: { mail: 1, sms: 0, recoveryMail: 1, recoverySms: 0 },
    settled: (st) => hard(st, 'web2', 1) && st.filter((o) => o.key.startsWith('web2/')).every((o) => o.state !== 0 && o.stateType === 'HARD'),
    holdMs: 5000,
    inject: async () => { nsx('web2', 'ip', ['link', 'set', 'eth0', 'down']); },
    heal: async () => {
      nsx('web2', 'ip', ['link', 'set', 'eth0', 'up']);
      nsx('web2', 'ip', ['route', 'replace', '198.51.100.0/24', 'via', GW_LAN]);
    },
  },
  'admin-cut-from-db-tier': {
    what: 'the admin node cut off from the db tier at the gateway: db-sw DOWN, db1 and db2 UNREACHABLE',
    // db-sw DOWN to db-admins (oncall, dbteam); db1, db2 UNREACHABLE notify nobody.
    expect: { mail: 2, sms: 1, recoveryMail: 2, recoverySms: 1 },
    settled: (st) => hard(st, 'db-sw', 1) && hard(st, 'db1', 2) && hard(st, 'db2', 2),
    holdMs: 5000,
    inject: async () => {
      for (const a of cutAddrs.db) {
        nsRaw(GW_NS, 'iptables', ['-A', 'LABCUT', '-d', a, '-j', 'DROP']);
        nsRaw(GW_NS, 'iptables', ['-A', 'LABCUT', '-s', a, '-j', 'DROP']);
      }
    },
    heal: async () => { nsRaw(GW_NS, 'iptables', ['-F', 'LABCUT']); },
  },
  'storage-peer-disconnected': {
    what: 'the gluster peers cut apart: nfs2 rejects and refuses all TCP with nfs1, their open connections cut',
    // nfs1/gluster and nfs2/gluster CRITICAL (a pool of two without its majority, the peer
    // Disconnected) and nfs2/firewall CRITICAL (the required gluster ports from the peer are
    // closed), each to storage-admins (oncall, storage).
    expect: { mail: 6, sms: 3, recoveryMail: 6, recoverySms: 3 },
    inject: async () => {
      const peer = NODES.nfs1.ip;
      // REJECT, not DROP: with DROP every gluster command of the check waits for connects
      // that never finish and the check times out (UNKNOWN) instead of seeing the peer gone.
      nsx('nfs2', 'iptables', ['-I', 'INPUT', '1', '-s', peer, '-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset']);
      nsx('nfs2', 'iptables', ['-I', 'OUTPUT', '1', '-d', peer, '-p', 'tcp', '--tcp-flags', 'RST', 'RST', '-j', 'ACCEPT']);
      nsx('nfs2', 'iptables', ['-I', 'OUTPUT', '2', '-d', peer, '-p', 'tcp', '-j', 'REJECT', '--reject-with', 'icmp-port-unreachable']);
      // The idle connections between the glusterds carry no keepalive (management ping-timeout
      // is 0): cut them now, as the next packet on a broken link would, and both notice at once.
      nsx('nfs2', 'ss', ['-K', 'dst', peer], { ok: true });
      // Writes go on on nfs1's side (it keeps the quorum with the arbiter): what nfs2 misses
      // is healed when it is back.
      nsHolder('nfs1', ['sh', '-c', `mkdir -p ${mnt('nfs1')}/during && for i in 1 2 3 4 5; do echo $i > ${mnt('nfs1')}/during/f$i; done`], { ok: true });
    },
    heal: async () => {
      const peer = NODES.nfs1.ip;
      nsx('nfs2', 'iptables', ['-D', 'INPUT', '-s', peer, '-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset']);
      nsx('nfs2', 'iptables', ['-D', 'OUTPUT', '-d', peer, '-p', 'tcp', '--tcp-flags', 'RST', 'RST', '-j', 'ACCEPT']);
      nsx('nfs2', 'iptables', ['-D', 'OUTPUT', '-d', peer, '-p', 'tcp', '-j', 'REJECT', '--reject-with', 'icmp-port-unreachable']);
      const pending = [...gluster('nfs1', ['volume', 'heal', VOLUME, 'info', 'summary'], { ok: true }).matchAll(/Total Number of entries: (\d+)/g)].map((m) => m[1]);
      log(`storage-peer-disconnected healed: heal entries per brick before the heal ${pending.join(', ')}`);
      // glusterd reconnects every 3 s; the volume is healthy again when both see each other,
      // every brick is online and heal info has nothing left.
      await waitFor(`volume ${VOLUME} healthy again`, volumeHealthy, 90_000, 1000);
    },
  },
};

/** The short form CI runs: the faults that prove the point. */
export const SHORT = ['vip-holder-keepalived', 'vrrp-split-brain', 'replication-stopped', 'node-isolated'];

export async function fault(name) {
  const f = FAULTS[name];
  if (!f) throw new Error(`lab: unknown fault ${name}: one of ${Object.keys(FAULTS).join(', ')}`);
  await f.inject();
}

export async function heal(name) {
  const f = FAULTS[name];
  if (!f) throw new Error(`lab: unknown fault ${name}: one of ${Object.keys(FAULTS).join(', ')}`);
  await f.heal();
}

/** Mails and SMS received so far, as counts and lines. */
export function received() {
  return { mail: readLines(paths().mail), sms: readLines(paths().sms) };
}

/**
 * Injects one fault, waits for its problem notifications, heals it, waits for the recoveries,
 * and checks the counts exactly. Returns one row of the table.
 */
export async function runFault(name, opts = {}) {
  const f = FAULTS[name];
  const settleMs = opts.settleMs ?? 8000;
  const p = paths();
  const m0 = lineCount(p.mail);
  const s0 = lineCount(p.sms);
  const t0 = Date.now();
  await f.inject();
  const want = f.expect;
  let firstMail = null;
  if (want.mail > 0) {
    await waitFor(`${want.mail} problem mails for ${name}`, () => lineCount(p.mail) - m0 >= want.mail, opts.timeoutMs ?? 60_000, 200).catch(() => undefined);
  } else {
    await sleep(f.quietMs ?? 15_000);
  }
  // The fault must have had its full effect before it is healed (the hosts judged, every
  // check that was running through the fault finished), else the heal races those results.
  if (f.settled) await waitFor(`${name} to settle`, async () => f.settled(await status()), 60_000, 1000).catch((e) => log(e.message));
  // Anything more than expected would arrive in the next seconds: wait a little, then count.
  await sleep(want.mail > 0 ? (f.holdMs ?? 3000) : 0);
  const mails = readLines(p.mail).slice(m0);
  const sms = readLines(p.sms).slice(s0);
  if (mails.length) firstMail = (mails[0].at - t0) / 1000;
  const m1 = m0 + mails.length;
  const s1 = s0 + sms.length;
  await f.heal();
  if (want.recoveryMail > 0) {
    await waitFor(`${want.recoveryMail} recovery mails for ${name}`, () => lineCount(p.mail) - m1 >= want.recoveryMail, opts.timeoutMs ?? 60_000, 200).catch(() => undefined);
  }
  // Back to all OK before the next fault (a late recovery would be counted for the wrong one).
  let healthy = true;
  await waitHealthy(opts.healthyTimeoutMs ?? 90_000).catch((e) => { healthy = false; log(e.message); });
  await sleep(settleMs);
  const recMails = readLines(p.mail).slice(m1);
  const recSms = readLines(p.sms).slice(s1);
  const got = { mail: mails.length, sms: sms.length, recoveryMail: recMails.length, recoverySms: recSms.length };
  let notices = null;
  if (f.notice) {
    const h = await curlApi(`/api/v1/history?key=${encodeURIComponent(f.notice.key)}&limit=100`).catch(() => ({ events: [] }));
    notices = (h.events ?? []).filter((e) => e.type === 'FAILOVER' && e.at >= t0).length;
    got.notices = notices;
  }
  const ok = healthy && (notices === null || notices === f.notice.failovers) && got.mail === want.mail && got.sms === want.sms && got.recoveryMail === want.recoveryMail && got.recoverySms === want.recoverySms;
  // A fault with a notice expects it too: the failover's FAILOVER events are part of its answer.
  return { fault: name, expected: f.notice ? { ...want, notices: f.notice.failovers } : want, got, secondsToMail: firstMail, ok, subjects: [...mails, ...recMails].map((m) => `${m.to.join(',')}: ${m.subject}`) };
}

function table(rows) {
  const fmt = (c) => `${c.mail}+${c.sms}sms / ${c.recoveryMail}+${c.recoverySms}sms${c.notices === undefined ? "" : `, ${c.notices} failover notices`}`;
  const lines = ['| fault | expected (problem / recovery) | got | s to first mail | ok |', '| --- | --- | --- | --- | --- |'];
  for (const r of rows) lines.push(`| ${r.fault} | ${fmt(r.expected)} | ${fmt(r.got)} | ${r.secondsToMail === null ? '-' : r.secondsToMail.toFixed(1)} | ${r.ok ? 'yes' : 'NO'} |`);
  return lines.join('\n');
}

/** up, healthy, each fault, table, down. Returns { ok, rows, table }. */
export async function run(names = Object.keys(FAULTS), opts = {}) {
  const t0 = Date.now();
  const rows = [];
  let ok = false;
  try {
    await up();
    await waitHealthy(opts.healthyTimeoutMs ?? 180_000);
    const quiet = received();
    if (quiet.mail.length || quiet.sms.length) throw new Error(`lab: notifications while healthy: ${quiet.mail.map((m) => m.subject).join(' | ')}`);
    log(`healthy after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    for (const n of names) {
      const r = await runFault(n, opts);
      rows.push(r);
      log(`${n}: ${r.ok ? 'ok' : 'MISMATCH'} ${JSON.stringify(r.got)} first mail ${r.secondsToMail ?? '-'} s; ${r.subjects.join(' | ')}`);
    }
    ok = rows.every((r) => r.ok);
  } finally {
    if (!opts.keep) await down();
  }
  return { ok, rows, table: table(rows), seconds: (Date.now() - t0) / 1000 };
}

// ---------------------------------------------------------------------------------------------
// CLI

async function main(argv) {
  const [cmd, arg] = argv;
  switch (cmd) {
    case 'up':
      await up();
      await waitHealthy();
      process.stdout.write(`lab up: server ${paths().serverUrl} in ${ADMIN_NS}, mail ${paths().mail}, sms ${paths().sms}\n`);
      return 0;
    case 'down':
      await down();
      process.stdout.write('lab down\n');
      return 0;
    case 'fault':
      await fault(arg);
      return 0;
    case 'heal':
      await heal(arg);
      return 0;
    case 'faults':
      for (const [n, f] of Object.entries(FAULTS)) process.stdout.write(`${n}: ${f.what}\n`);
      return 0;
    case 'status': {
      const s = await status();
      for (const o of s) process.stdout.write(`${o.key}\t${o.checked ? ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'][o.state] ?? o.state : 'PENDING'}\t${o.stateType}\t${o.output}\n`);
      const r = received();
      process.stdout.write(`mail received: ${r.mail.length}, sms received: ${r.sms.length}\n`);
      return 0;
    }
    case 'run': {
      const names = argv.includes('--short') ? SHORT : argv.slice(1).filter((a) => !a.startsWith('--')).length ? argv.slice(1).filter((a) => !a.startsWith('--')) : Object.keys(FAULTS);
      const r = await run(names, { keep: argv.includes('--keep') });
      process.stdout.write(`${r.table}\n\n${r.ok ? 'all faults matched' : 'MISMATCH'} in ${r.seconds.toFixed(0)} s\n`);
      return r.ok ? 0 : 1;
    }
    default:
      process.stderr.write('usage: npm run lab -- up | fault NAME | heal NAME | down | run [--short] [--keep] [FAULT...] | status | faults\n');
      return 2;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  });
}
