// Issue 13 items 3 and 4, short form: the lab (scripts/lab/lab.mjs) brought up for real in
// namespaces of its own prefix, healthy with no notification, then the faults that matter
// most, each counted exactly at the SMTP and SMS receivers: a failover pages nobody, a split
// brain and a stopped replication direction page once (and recover once), an isolated node
// is one host DOWN with its services suppressed. Then down, and nothing of it is left.
// Slow (about 3 minutes): it starts MariaDB, keepalived, HAProxy, nginx, 6 agents and the server.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { requireRoot } from '../support/require.ts';

// Its own prefix and state dir: a lab someone runs by hand (hwl) is left alone.
process.env.HAWATCH_LAB_PREFIX = `hwt${process.pid % 1000}`;
process.env.HAWATCH_LAB_DIR = `/tmp/hawatch-lab-test-${process.pid}`;
process.env.HAWATCH_LAB_QUIET = '1';
const lab = await import('../../scripts/lab/lab.mjs');

afterAll(async () => {
  await lab.down();
}, 60_000);

describe('the lab, short form', () => {
  it('builds the cluster, sees each fault with exactly the expected notifications, tears down', async () => {
    requireRoot('the lab makes network namespaces and starts daemons as root');
    const r = await lab.run(lab.SHORT);
    // The table is the evidence: printed so a CI log shows the times.
    process.stdout.write(`${r.table}\n(${r.seconds.toFixed(0)} s)\n`);
    for (const row of r.rows) expect({ fault: row.fault, got: row.got, subjects: row.subjects }).toEqual({ fault: row.fault, got: row.expected, subjects: row.subjects });
    expect(r.rows.map((x) => x.fault)).toEqual(lab.SHORT);
    expect(r.ok).toBe(true);
    // A split brain and a stopped replication are mailed within seconds of the fault.
    const secs = Object.fromEntries(r.rows.map((x) => [x.fault, x.secondsToMail]));
    expect(secs['replication-stopped']).toBeLessThan(10);
    expect(secs['vrrp-split-brain']).toBeLessThan(20);
    // down ran: no namespace of the prefix, no state dir.
    const left = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.startsWith(`${lab.PREFIX}-`));
    expect(left).toEqual([]);
    expect(existsSync(lab.STATE_DIR)).toBe(false);
  }, 420_000);

  it('down cleans up after a lab whose process died: it finds the namespaces and pids from the prefix and state dir', async () => {
    // A lab process killed in the middle of up: spawn it, kill it once the database runs.
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, ['scripts/lab/lab.mjs', 'up'], { env: process.env, stdio: 'ignore' });
    const end = Date.now() + 90_000;
    while (!existsSync(`${lab.STATE_DIR}/pids/mariadb-db2.pid`) && Date.now() < end && child.exitCode === null) await new Promise((r) => setTimeout(r, 200));
    child.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    expect(existsSync(`${lab.STATE_DIR}/pids/mariadb-db2.pid`)).toBe(true);
    const before = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.startsWith(`${lab.PREFIX}-`));
    expect(before.length).toBeGreaterThan(5);
    await lab.down();
    const left = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.startsWith(`${lab.PREFIX}-`));
    expect(left).toEqual([]);
    expect(existsSync(lab.STATE_DIR)).toBe(false);
    // The daemons it started are gone too (the pid files named them; the namespaces held them).
    expect(spawnSync('pgrep', ['-f', lab.STATE_DIR]).status).toBe(1);
  }, 180_000);
});
