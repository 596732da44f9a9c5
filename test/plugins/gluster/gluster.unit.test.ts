/**
 * check_ha_gluster on the transcripts captured from the lab (plugins/gluster/fixtures) and on
 * rules the lab does not reach: replica 2 auto quorum (first brick), fixed quorum, a missing
 * volume, the pool majority, heal-count text; the state directory kept for the heal trend
 * (refused when someone else could have planted an earlier count there).
 */
import { chmodSync, chownSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runPlugin } from '../../../nagios/plugin.ts';
import { evaluate } from '../../../plugins/gluster/evaluate.ts';
import descriptor from '../../../plugins/gluster/index.ts';
import { parseHealCount, parseTranscript } from '../../../plugins/gluster/parse.ts';
import { keepPending, statePath, type GlusterFacts } from '../../../plugins/gluster/collect.ts';
import { fixturePath } from '../../support/paths.ts';
import { requireRoot } from '../../support/require.ts';
import { removeDir, tempDir } from '../../support/tmp.ts';

const fx = (name: string) => fixturePath('gluster', name);
const run = (args: string[]) => runPlugin(descriptor, args);

describe('check_ha_gluster on captured GlusterFS 10.3 transcripts', () => {
  it('healthy: OK with perfdata', async () => {
    const r = await run(['--input-file', fx('gluster-10.3-replica3-healthy.txt')]);
    expect(r.exitCode).toBe(0);
    expect(r.text).toContain('hwv_bricks_online=3;;;0;3');
  });
  it('the lock answer (opRet -1, exit 0) is UNKNOWN with the lock, not offline bricks', async () => {
    const r = await run(['--input-file', fx('gluster-10.3-lock-taken.txt')]);
    expect(r.exitCode).toBe(3);
    expect(r.text).toMatch(/cluster lock was taken \(Another transaction is in progress for hwv/);
    expect(r.text).not.toMatch(/offline/);
  });
  it('glusterd of a peer down: peer WARNING (majority kept), its brick not reported counts as down', async () => {
    const r = await run(['--input-file', fx('gluster-10.3-replica3-glusterd-down.txt')]);
    expect(r.exitCode).toBe(1);
    expect(r.text).toContain('[WARNING] 192.0.2.3: disconnected');
    expect(r.text).toContain('192.0.2.3:/tmp/gtest/c/brick not reported');
  });
  it('a brick down: its heal info status glitch is read as not read there; split-brain CRITICAL', async () => {
    const r = await run(['--input-file', fx('gluster-10.3-replica3-brick-down-pending-heals.txt')]);
    expect(r.text).toMatch(/14 pending \(first count.*not read on 192\.0\.2\.3/);
    const sb = await run(['--input-file', fx('gluster-10.3-replica3-split-brain.txt')]);
    expect(sb.exitCode).toBe(2);
  });
  it('a volume asked for that does not exist is CRITICAL', async () => {
    const r = await run(['--input-file', fx('gluster-10.3-replica3-healthy.txt'), '--volume', 'nosuch']);
    expect(r.exitCode).toBe(2);
    expect(r.text).toContain('volume nosuch: no such volume');
  });
  it('--cheap reads heal-count text', async () => {
    const t = parseTranscript(readFileSync(fx('gluster-10.3-replica3-brick-down-pending-heals.txt'), 'utf8'));
    const b = parseHealCount(t.get('volume heal hwv statistics heal-count')!, 'hwv');
    expect(b.map((x) => [x.pending, x.connected])).toEqual([[7, true], [7, true], [undefined, false]]);
  });
});

function facts(replica: number, up: boolean[], options: Record<string, string> = {}, peersUp = [true, true]): GlusterFacts {
  const bricks = up.map((_, i) => ({ name: `h${i}:/b`, hostUuid: `u${i}`, arbiter: false }));
  return {
    peers: peersUp.map((c, i) => ({ uuid: `p${i}`, hostname: `p${i}`, connected: c, stateStr: 'Peer in Cluster' })),
    missing: [],
    volumes: [{
      info: { name: 'v', status: 'Started', type: 'Replicate', replicaCount: replica, arbiterCount: 0, disperseCount: 0, redundancyCount: 0, bricks, options: new Map(Object.entries(options)) },
      status: up.map((u, i) => ({ hostname: `h${i}`, path: '/b', peerid: `u${i}`, online: u })),
    }],
  };
}

describe('quorum rules', () => {
  const state = (f: GlusterFacts) => {
    const r = evaluate(f, 0);
    const v = r.children!.find((c) => c.name === 'volume v')!;
    return v.children![0]!.state;
  };
  it('replica 2 auto: half up is enough only with the first brick', () => {
    expect(state(facts(2, [true, false]))).toBe(1);
    expect(state(facts(2, [false, true]))).toBe(2);
  });
  it('replica 3: one down WARNING, two down CRITICAL; fixed quorum-count 1 keeps one brick WARNING', () => {
    expect(state(facts(3, [true, true, false]))).toBe(1);
    expect(state(facts(3, [true, false, false]))).toBe(2);
    expect(state(facts(3, [true, false, false], { 'cluster.quorum-type': 'fixed', 'cluster.quorum-count': '1' }))).toBe(1);
  });
  it('pool majority lost: disconnected peers CRITICAL', () => {
    const r = evaluate(facts(3, [true, true, true], {}, [false, false]), 0);
    expect(r.children![0]!.children![0]!.state).toBe(2);
    const ok = evaluate(facts(3, [true, true, true], {}, [true, false]), 0);
    expect(ok.children![0]!.children![1]!.state).toBe(1);
  });
});

describe('the pending heal count kept between runs (keepPending)', () => {
  const signal = new AbortController().signal;
  const dirs: string[] = [];
  afterAll(() => dirs.forEach(removeDir));
  const parent = (): string => {
    const d = tempDir('hawatch-gluster-state-');
    dirs.push(d);
    return d;
  };
  // A planted earlier count: 0 pending long ago, so any pending now would look like a new backlog.
  const plant = (dir: string): void => writeFileSync(statePath(dir, 'hwv'), JSON.stringify({ volume: 'hwv', pending: 0, at: 1 }));

  it('the TMPDIR fallback is created 0700 and keeps the count across runs', async () => {
    const dir = join(parent(), 'hawatch-x');
    const first = await keepPending([{ dir, private: true }], 'hwv', 5, 1000, signal);
    expect(first).toEqual({ dir });
    expect(lstatSync(dir).mode & 0o777).toBe(0o700);
    const second = await keepPending([{ dir, private: true }], 'hwv', 7, 2000, signal);
    expect(second).toEqual({ dir, previous: { pending: 5, at: 1000 } });
  });

  it('a fallback directory made first by another user is refused: no planted count read, no trend', async () => {
    requireRoot('the test gives a directory to another user');
    const dir = join(parent(), 'hawatch-x');
    mkdirSync(dir, { mode: 0o700 });
    plant(dir);
    chownSync(dir, 65534, 65534);
    const r = await keepPending([{ dir, private: true }], 'hwv', 5, 1000, signal);
    expect(r.previous).toBeUndefined();
    expect(r.dir).toBeUndefined();
    expect(r.error).toMatch(new RegExp(`^unsafe state directory ${dir}: owned by uid 65534, not by this user \\(uid 0\\)`));
    expect(r.error).not.toMatch(/[;`~$&|'"<>\n]/);
  });

  it('a fallback directory of mode 0777 is refused, and the next directory is used', async () => {
    const dir = join(parent(), 'hawatch-x');
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    plant(dir);
    const r = await keepPending([{ dir, private: true }], 'hwv', 5, 1000, signal);
    expect(r).toEqual({ error: `unsafe state directory ${dir}: mode 777, expected 700, chmod 700 it or give --state-dir` });
    const next = join(parent(), 'next');
    const r2 = await keepPending([{ dir, private: true }, { dir: next }], 'hwv', 5, 1000, signal);
    expect(r2).toEqual({ dir: next, previous: undefined });
  });

  it('a given --state-dir writable by others is refused too', async () => {
    const dir = parent();
    chmodSync(dir, 0o777);
    plant(dir);
    const r = await keepPending([{ dir }], 'hwv', 5, 1000, signal);
    expect(r.previous).toBeUndefined();
    expect(r.error).toMatch(/writable by group or others \(mode 777\), chmod go-w it/);
  });
});
