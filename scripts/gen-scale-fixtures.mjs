#!/usr/bin/env node
// Writes the large fixtures that test the 8 KiB output budget (issue 9): a 40-resource DRBD
// node in the three formats check_ha_drbd reads, and a 60-server HAProxy CSV. The rows follow
// the layouts of the small captured fixtures beside them (see their README.md); only names,
// minors and counters vary. Run: node scripts/gen-scale-fixtures.mjs (rewrites the files).
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const drbd = join(root, 'plugins', 'drbd', 'fixtures');
const haproxy = join(root, 'plugins', 'haproxy', 'fixtures');

// DRBD: 40 resources, one volume and one peer each. r7 lost its peer (CRITICAL, 4 MiB out of
// sync), r23 has 10 MiB out of sync while connected (WARNING with the default -w 0).
const N = 40;
const DISCONNECTED = 7;
const OOS = 23;
const oosKiB = (i) => (i === DISCONNECTED ? 4096 : i === OOS ? 10240 : 0);
const role = (i) => (i % 2 === 0 ? 'Primary' : 'Secondary');
const peerRole = (i) => (i === DISCONNECTED ? 'Unknown' : i % 2 === 0 ? 'Secondary' : 'Primary');
const read = (i) => 1050932 + i * 4096;
const written = (i) => 77544 + i * 512;
const sizeKiB = 8388316;

// /proc/drbd of DRBD 8.4 (drbd_seq_show): minors 0..39.
{
  const lines = ['version: 8.4.11 (api:1/proto:86-101)', 'srcversion: FC3433D849E3B88C1E7B55C '];
  for (let i = 0; i < N; i++) {
    const cs = i === DISCONNECTED ? 'WFConnection' : 'Connected';
    const peerDisk = i === DISCONNECTED ? 'DUnknown' : 'UpToDate';
    lines.push(`${String(i).padStart(2)}: cs:${cs} ro:${role(i)}/${peerRole(i)} ds:UpToDate/${peerDisk} C r-----`);
    lines.push(`    ns:${written(i)} nr:0 dw:${written(i)} dr:${read(i)} al:22 bm:64 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:${oosKiB(i)}`);
  }
  writeFileSync(join(drbd, 'proc-8.4-40-resources.txt'), lines.join('\n') + '\n');
}

// drbdsetup status --json of drbd-utils 9.22 (resources r0..r39, peer nodeb).
{
  const resources = [];
  for (let i = 0; i < N; i++) {
    const connected = i !== DISCONNECTED;
    const inSync = (100 * (sizeKiB - oosKiB(i))) / sizeKiB;
    resources.push(`{
  "name": "r${i}",
  "node-id": 0,
  "role": "${role(i)}",
  "suspended": false,
  "suspended-user": false,
  "suspended-no-data": false,
  "suspended-fencing": false,
  "suspended-quorum": false,
  "force-io-failures": false,
  "write-ordering": "flush",
  "devices": [
    {
      "volume": 0,
      "minor": ${i},
      "disk-state": "UpToDate",
      "client": false,
      "quorum": true,
      "size": ${sizeKiB},
      "read": ${read(i)},
      "written": ${written(i)},
      "al-writes": 22,
      "bm-writes": 64,
      "upper-pending": 0,
      "lower-pending": 0
    } ],
  "connections": [
    {
      "peer-node-id": 1,
      "name": "nodeb",
      "connection-state": "${connected ? 'Connected' : 'Connecting'}", 
      "congested": false,
      "peer-role": "${peerRole(i)}",
      "ap-in-flight": 0,
      "rs-in-flight": 0,
      "peer_devices": [
        {
          "volume": 0,
          "replication-state": "${connected ? 'Established' : 'Off'}",
          "peer-disk-state": "${connected ? 'UpToDate' : 'DUnknown'}",
          "peer-client": false,
          "resync-suspended": "no",
          "received": 0,
          "sent": ${written(i)},
          "out-of-sync": ${oosKiB(i)},
          "pending": 0,
          "unacked": 0,
          "has-sync-details": false,
          "has-online-verify-details": false,
          "percent-in-sync": ${inSync.toFixed(2)}
        } ]
    } ]
}`);
  }
  writeFileSync(join(drbd, 'status-9-40-resources.json'), `[\n${resources.join('\n,\n')}\n]\n`);
}

// drbdsetup events2 --now --statistics of drbd-utils 9.22.
{
  const lines = [];
  for (let i = 0; i < N; i++) {
    const connected = i !== DISCONNECTED;
    lines.push(`exists resource name:r${i} role:${role(i)} suspended:no force-io-failures:no write-ordering:flush may_promote:no promotion_score:10101`);
    lines.push(`exists connection name:r${i} peer-node-id:1 conn-name:nodeb connection:${connected ? 'Connected' : 'Connecting'} role:${peerRole(i)} congested:no ap-in-flight:0 rs-in-flight:0`);
    lines.push(`exists device name:r${i} volume:0 minor:${i} backing_dev:/dev/vg0/r${i}_0 disk:UpToDate client:no quorum:yes size:${sizeKiB} read:${read(i)} written:${written(i)} al-writes:22 bm-writes:64 upper-pending:0 lower-pending:0 al-suspended:no blocked:no`);
    lines.push(`exists peer-device name:r${i} peer-node-id:1 conn-name:nodeb volume:0 replication:${connected ? 'Established' : 'Off'} peer-disk:${connected ? 'UpToDate' : 'DUnknown'} peer-client:no resync-suspended:no received:0 sent:${written(i)} out-of-sync:${oosKiB(i)} pending:0 unacked:0`);
  }
  lines.push('exists -');
  writeFileSync(join(drbd, 'events2-9-40-resources.txt'), lines.join('\n') + '\n');
}

// HAProxy: `show stat` CSV (the header and row layout of transitional.csv, HAProxy 2.x/3.x).
// be_app: 40 servers, app07 and app31 DOWN (WARNING); be_svc1..be_svc4: 5 servers each, all
// of be_svc3 DOWN (CRITICAL). 60 servers in all.
{
  const template = readFileSync(join(haproxy, 'transitional.csv'), 'utf8').split('\n');
  const header = template[0];
  const cols = header.replace(/^# /, '').split(',');
  const col = (name) => {
    const i = cols.indexOf(name);
    if (i < 0) throw new Error(`column ${name} missing from the template header`);
    return i;
  };
  const rowOf = (px, sv) => template.find((l) => l.startsWith(`${px},${sv},`)).split(',');
  const upServer = rowOf('be_web', 'web2');
  const downServer = readFileSync(join(haproxy, 'down-maint-drain.csv'), 'utf8').split('\n').find((l) => l.startsWith('be_web,web1,')).split(',');
  const backendRow = rowOf('be_web', 'BACKEND');
  const frontendRow = rowOf('fe_web', 'FRONTEND');
  const set = (row, values) => {
    const r = [...row];
    for (const [k, v] of Object.entries(values)) r[col(k)] = String(v);
    return r.join(',');
  };
  const out = [header];
  let iid = 2;
  out.push(set(frontendRow, { pxname: 'fe_main', iid: iid++ }));
  const backends = [
    { name: 'be_app', prefix: 'app', count: 40, down: new Set([7, 31]) },
    ...[1, 2, 3, 4].map((n) => ({ name: `be_svc${n}`, prefix: `svc${n}_`, count: 5, down: n === 3 ? new Set([1, 2, 3, 4, 5]) : new Set() })),
  ];
  let port = 20000;
  for (const b of backends) {
    const id = iid++;
    for (let s = 1; s <= b.count; s++) {
      const down = b.down.has(s);
      const sv = `${b.prefix}${String(s).padStart(2, '0')}`;
      out.push(set(down ? downServer : upServer, { pxname: b.name, svname: sv, iid: id, sid: s, addr: `127.0.0.1:${port++}` }));
    }
    const up = b.count - b.down.size;
    out.push(set(backendRow, { pxname: b.name, iid: id, status: up > 0 ? 'UP' : 'DOWN', act: up, bck: 0, weight: up }));
  }
  writeFileSync(join(haproxy, 'scale-60-servers.csv'), out.join('\n') + '\n');
}
