/**
 * check_ha_gluster on the transcripts captured from the lab (plugins/gluster/fixtures) and on
 * rules the lab does not reach: replica 2 auto quorum (first brick), fixed quorum, a missing
 * volume, the pool majority, heal-count text.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runPlugin } from '../../../nagios/plugin.ts';
import { evaluate } from '../../../plugins/gluster/evaluate.ts';
import descriptor from '../../../plugins/gluster/index.ts';
import { parseHealCount, parseTranscript } from '../../../plugins/gluster/parse.ts';
import type { GlusterFacts } from '../../../plugins/gluster/collect.ts';
import { fixturePath } from '../../support/paths.ts';

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
