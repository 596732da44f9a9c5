// Issue 13 item 1: watchers in the agent. One real hawatch-agent (started as root, dropping to
// nagios) with real watcher processes and files: a fake `drbdsetup events2` emitter (a script
// printing lines when signalled), keepalived's notify script writing and, past its size
// limit, replacing its state file by rename, a log tail with a regex and a rotation, a poll,
// a watcher that keeps dying (restarted with backoff, reported), a burst of 1000 lines
// coalesced into a few runs and a 128 MB line that does not grow the agent's memory.
import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText, configProblems } from '../../agent/config.ts';
import { Coalescer, LineSplitter, MAX_LINE } from '../../agent/watch.ts';
import { ROOT } from '../support/paths.ts';
import { requireRoot } from '../support/require.ts';
import { waitFor } from '../support/wait.ts';
import { AGENT_BIN, cleanup, run, startAgent, tempDir, type Daemon } from './helpers.ts';

const NOTIFY = join(ROOT, 'plugins/keepalived/hawatch-keepalived-notify.sh');
let dir = '';
let agent: Daemon;

const runs = (name: string): number[] => {
  const f = join(dir, `runs.${name}`);
  return readFileSync(f, 'utf8').split('\n').filter((l) => l !== '').map((l) => Number(l) / 1e6);
};
const waitRuns = (name: string, n: number, timeoutMs = 5000): Promise<number[]> =>
  waitFor(`${n} runs of ${name}`, () => (runs(name).length >= n ? runs(name) : undefined), timeoutMs, { everyMs: 20 });
const write = (name: string, text: string, mode = 0o755): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  chmodSync(p, mode);
  return p;
};
/** Waits until the command has not run for 500 ms (the start runs are over), then counts. */
async function quietRuns(name: string): Promise<number> {
  let n = runs(name).length;
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const m = runs(name).length;
    if (m === n) return n;
    n = m;
  }
}
const rssKb = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);

beforeAll(async () => {
  requireRoot('the agent drops to nagios and the watchers run as that user');
  dir = await tempDir('hawatch-watch-');
  for (const n of ['events', 'vrrp', 'haproxy', 'poll', 'dies', 'burst', 'big']) write(`runs.${n}`, '', 0o666);
  write('starts.dies', '', 0o666);
  for (const n of ['events', 'burst', 'big']) write(`${n}.pid`, '', 0o666);
  // The watched command: notes when it ran (ns), takes a moment like a real check, says OK.
  write('probe.sh', '#!/bin/sh\ndate +%s%N >> "$(dirname "$0")/runs.$1"\nsleep 0.1\necho "PROBE OK - $1"\n');
  // A fake drbdsetup events2: one line per SIGUSR1, 1000 lines per SIGUSR2, a 128 MB line per SIGHUP.
  write('events2.sh', [
    '#!/bin/bash',
    'echo $$ > "$(dirname "$0")/$1.pid"',
    'trap \'echo "change resource name=r0 role:Secondary"\' USR1',
    'trap \'for i in $(seq 1000); do echo "change peer-device name=r0 conn-name=peer volume:0 replication:SyncSource done:$i"; done\' USR2',
    'trap \'head -c 134217728 /dev/zero | tr "\\0" a; echo\' HUP',
    'echo "exists -"',
    'while :; do sleep 0.05; done',
  ].join('\n') + '\n');
  write('dies.sh', '#!/bin/sh\ndate +%s%N >> "$(dirname "$0")/starts.dies"\necho boom on purpose >&2\nexit 1\n');
  write('state', '', 0o666);
  write('haproxy.log', '', 0o666);
  const cfg = [
    `command[check_events]=${dir}/probe.sh events`,
    `command[check_vrrp]=${dir}/probe.sh vrrp`,
    `command[check_haproxy]=${dir}/probe.sh haproxy`,
    `command[check_poll]=${dir}/probe.sh poll`,
    `command[check_dies]=${dir}/probe.sh dies`,
    `command[check_burst]=${dir}/probe.sh burst`,
    `command[check_big]=${dir}/probe.sh big`,
    `hawatch_watch[check_events]=${dir}/events2.sh events`,
    `hawatch_watch[check_vrrp]=file:${dir}/state`,
    `hawatch_watch[check_haproxy]=tail:${dir}/haproxy.log`,
    'hawatch_watch_match[check_haproxy]=is (UP|DOWN)',
    'hawatch_watch[check_poll]=poll:1',
    `hawatch_watch[check_dies]=${dir}/dies.sh`,
    `hawatch_watch[check_burst]=${dir}/events2.sh burst`,
    `hawatch_watch[check_big]=${dir}/events2.sh big`,
    'hawatch_watch_backoff_max=4',
    'hawatch_watch_stat_interval=0.5',
  ].join('\n');
  agent = await startAgent({ config: cfg, plain: true });
  // Every watched command runs once at start: the first state is news.
  for (const n of ['events', 'vrrp', 'haproxy', 'burst', 'big']) await waitRuns(n, 1);
  await waitFor('the emitters', () => ['events', 'burst', 'big'].every((n) => readFileSync(join(dir, `${n}.pid`), 'utf8').trim() !== ''), 5000);
}, 30_000);

afterAll(async () => {
  await cleanup();
});

const pidOf = (n: string): number => Number(readFileSync(join(dir, `${n}.pid`), 'utf8'));

describe('command watchers (drbdsetup events2 style)', () => {
  it('run as the agent user in their own process group; each line re-runs the command at once', async () => {
    const pid = pidOf('events');
    expect(statSync(`/proc/${pid}`).uid).toBe(Number(execFileSync('id', ['-u', 'nagios'], { encoding: 'utf8' }).trim()));
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    expect(Number(stat[2])).toBe(pid); // pgid: the emitter leads its own group (setsid)
    const before = await quietRuns('events');
    const t0 = Date.now();
    process.kill(pid, 'SIGUSR1');
    const after = await waitRuns('events', before + 1);
    const latency = after[after.length - 1]! - t0;
    console.log(`events2 line to command run: ${latency.toFixed(0)} ms`);
    expect(latency).toBeLessThan(500);
  });

  it('a burst of 1000 lines is coalesced into a few runs', async () => {
    const before = await quietRuns('burst');
    process.kill(pidOf('burst'), 'SIGUSR2');
    await waitRuns('burst', before + 1);
    await new Promise((r) => setTimeout(r, 1500));
    const extra = runs('burst').length - before;
    console.log(`1000 lines gave ${extra} runs`);
    expect(extra).toBeGreaterThanOrEqual(1);
    expect(extra).toBeLessThanOrEqual(4);
  });

  it('a 128 MB line is read without keeping it: the agent memory stays flat, one run', async () => {
    const pid = agent.proc.pid!;
    const before = await quietRuns('big');
    const base = rssKb(pid);
    let peak = base;
    process.kill(pidOf('big'), 'SIGHUP');
    const deadline = Date.now() + 20_000;
    while (runs('big').length === before && Date.now() < deadline) {
      peak = Math.max(peak, rssKb(pid));
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, 500));
    peak = Math.max(peak, rssKb(pid));
    console.log(`128 MB line: agent RSS ${base} kB -> peak ${peak} kB`);
    expect(runs('big').length - before).toBe(1);
    // Kept whole, the line alone would be 128 MB (and twice that while joined). What grows is
    // V8's young generation filling with the 64 KiB pipe chunks until it collects them.
    expect(peak - base).toBeLessThan(48 * 1024);
  }, 30_000);

  it('a watcher that exits is restarted with exponential backoff (capped) and reported as UNKNOWN', async () => {
    const starts = await waitFor('4 starts of the dying watcher', () => {
      const s = readFileSync(join(dir, 'starts.dies'), 'utf8').split('\n').filter((l) => l).map((l) => Number(l) / 1e6);
      return s.length >= 5 ? s : undefined;
    }, 20_000, { everyMs: 100 });
    const gaps = starts.slice(1).map((t, i) => (t - starts[i]!) / 1000);
    console.log(`restart gaps: ${gaps.map((g) => g.toFixed(2)).join(' ')} s`);
    // Lower bounds prove the waits; the upper ones leave room for a loaded machine.
    [1, 2, 4, 4].forEach((want, i) => {
      expect(gaps[i]).toBeGreaterThan(want - 0.1);
      expect(gaps[i]).toBeLessThan(want + 1.5);
    });
    const downs = agent.records().filter((r) => r.msg === 'watcher down; restarting' && r.command === 'check_dies');
    expect(downs.length).toBeGreaterThanOrEqual(4);
    expect(downs[0]).toMatchObject({ reason: expect.stringContaining('boom on purpose'), retry_s: 1 });
    expect(downs.slice(0, 4).map((d) => d.retry_s)).toEqual([1, 2, 4, 4]); // doubling, capped at hawatch_watch_backoff_max=4
    const unknown = agent.records().find((r) => r.msg === 'watched result changed' && r.command === 'check_dies' && r.code === 3);
    expect(String(unknown?.output)).toMatch(/^WATCH UNKNOWN - the watcher of check_dies is down, .*exit 1.*boom on purpose, restarting in 1 s$/);
  }, 30_000);
});

describe('file watchers', () => {
  it('keepalived notify script: an append and a replacement by rename each re-run the command, and the watch survives the new inode', async () => {
    const state = join(dir, 'state');
    const notify = (s: string) => execFileSync('sh', [NOTIFY, '-f', state, 'INSTANCE', 'VI_1', s, '100']);
    let n = await quietRuns('vrrp');
    const t0 = Date.now();
    notify('MASTER');
    let r = await waitRuns('vrrp', n + 1);
    console.log(`state file append to command run: ${(r[r.length - 1]! - t0).toFixed(0)} ms`);
    // Past 1000 lines the script trims the file: tail into a temp file, then mv over it.
    writeFileSync(state, `${'1 INSTANCE "VI_1" BACKUP 100\n'.repeat(1001)}`);
    await waitRuns('vrrp', n + 2);
    await new Promise((r) => setTimeout(r, 600));
    const ino = statSync(state).ino;
    n = runs('vrrp').length;
    notify('FAULT');
    expect(statSync(state).ino).not.toBe(ino); // replaced by rename
    expect(readFileSync(state, 'utf8').split('\n').length).toBeLessThan(600);
    r = await waitRuns('vrrp', n + 1);
    await new Promise((r) => setTimeout(r, 600));
    n = runs('vrrp').length;
    notify('BACKUP'); // an append to the new inode is still seen
    await waitRuns('vrrp', n + 1);
  });

  it('a log tail re-runs only on lines matching the regex, also after a rotation', async () => {
    const log = join(dir, 'haproxy.log');
    const n = await quietRuns('haproxy');
    appendFileSync(log, 'haproxy[1]: 192.0.2.7:4242 [29/Nov/2026] fe be/web1 0/0/1/2/3 200 512 GET / HTTP/1.1\n'.repeat(50));
    await new Promise((r) => setTimeout(r, 1500)); // stat poll and fs.watch both had their chance
    expect(runs('haproxy').length).toBe(n);
    appendFileSync(log, 'haproxy[1]: Server be/web1 is DOWN, reason: Layer4 connection problem\n');
    await waitRuns('haproxy', n + 1);
    await new Promise((r) => setTimeout(r, 400));
    renameSync(log, `${log}.1`);
    writeFileSync(log, 'haproxy[1]: Server be/web1 is UP, reason: Layer7 check passed\n');
    chmodSync(log, 0o666);
    await waitRuns('haproxy', n + 2);
  });
});

describe('poll watchers', () => {
  it('poll:1 re-runs the command every second', async () => {
    const a = runs('poll').length;
    await new Promise((r) => setTimeout(r, 3200));
    const b = runs('poll').length;
    expect(b - a).toBeGreaterThanOrEqual(3);
    expect(b - a).toBeLessThanOrEqual(4);
  });
});

describe('rate', () => {
  it('a watcher printing without pause is read at a bounded rate: it blocks on its pipe', async () => {
    write('runs.flood', '', 0o666);
    const flood = await startAgent({ config: [`command[check_flood]=${dir}/probe.sh flood`, 'hawatch_watch[check_flood]=/usr/bin/yes change resource name=r0 role:Secondary'].join('\n'), plain: true });
    const pid = await waitFor('the yes process', () => {
      try {
        return Number(execFileSync('pgrep', ['-P', String(flood.proc.pid), '-x', 'yes'], { encoding: 'utf8' }).trim()) || undefined;
      } catch {
        return undefined;
      }
    }, 5000);
    const wchar = () => Number(/wchar:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1]);
    const a = wchar();
    await new Promise((r) => setTimeout(r, 3000));
    const written = wchar() - a;
    console.log(`yes flood: ${written} bytes read by the agent in 3 s`);
    // 5000 lines a second of 37 bytes, each second overshooting by at most one 64 KiB read,
    // plus what the pipe and the stream buffer hold; unbounded it is gigabytes.
    expect(written).toBeLessThan(4 * (5000 * 37 + 65536) + 3 * 65536); // 3 s can touch 4 one-second windows
    expect(runs('flood').length).toBeGreaterThanOrEqual(3); // the command still runs, coalesced
    await flood.stop();
  }, 20_000);
});

describe('reload', () => {
  it('SIGHUP stops every watcher (its whole process group) and starts the new set', async () => {
    const oldEvents = pidOf('events');
    const oldBurst = pidOf('burst');
    const cfg = readFileSync(agent.cfgPath, 'utf8').split('\n').filter((l) => !l.startsWith('hawatch_watch[check_events]=')).join('\n');
    writeFileSync(agent.cfgPath, cfg);
    process.kill(agent.proc.pid!, 'SIGHUP');
    await agent.waitFor((o) => o.includes('"msg":"reloaded"'));
    await waitFor('the old emitters to be gone', () => !existsSync(`/proc/${oldEvents}`) && !existsSync(`/proc/${oldBurst}`), 5000);
    await waitFor('a new burst emitter', () => (pidOf('burst') !== oldBurst ? true : undefined), 5000);
    expect(pidOf('events')).toBe(oldEvents); // check_events is not watched any more
  });
});

describe('configuration', () => {
  it('validates the watcher lines: --check-config names the file and line', async () => {
    const d = await tempDir('hawatch-watchcfg-');
    const bad = (line: string) => {
      writeFileSync(join(d, 'a.cfg'), `command[check_x]=/bin/true\n${line}\n`);
      return run(process.execPath, [AGENT_BIN, '-c', join(d, 'a.cfg'), '--check-config']);
    };
    expect((await bad('hawatch_watch[check_x]=poll:0.1')).stderr).toMatch(/a\.cfg:2: hawatch_watch\[check_x\] poll:0.1 must be between 0.5 and 86400 seconds/);
    expect((await bad('hawatch_watch[check_x]=drbdsetup events2 | grep r0')).stderr).toMatch(/a\.cfg:2: hawatch_watch\[check_x\] the command needs a shell/);
    expect((await bad('hawatch_watch[check_x]=file:relative/path')).stderr).toMatch(/needs an absolute path/);
    expect((await bad('hawatch_watch_match[check_x]=(')).stderr).toMatch(/a\.cfg:2: hawatch_watch_match\[check_x\] is not a valid regular expression/);
    const undef = await bad('hawatch_watch[check_y]=poll:5');
    expect(undef.code).toBe(2);
    expect(undef.stderr).toMatch(/a\.cfg:2: hawatch_watch\[check_y\] watches for a command that is not defined: add command\[check_y\]/);
    const push = await bad('hawatch_push_url=https://192.0.2.5:8443/api/v1/results');
    expect(push.stderr).toMatch(/hawatch_push_url needs hawatch_push_token_file/);
    expect(push.stderr).toMatch(/hawatch_push_url needs hawatch_push_ca_file or hawatch_push_fingerprint/);
    expect((await bad('hawatch_push_url=http://192.0.2.5/api/v1/results')).stderr).toMatch(/hawatch_push_url must be https/);
    const good = await bad(`hawatch_watch[check_x]=drbdsetup events2\nhawatch_watch[check_x]=tail:/var/log/haproxy.log\nhawatch_watch_match[check_x]=is (UP|DOWN)`);
    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(/1 commands, 1 watchers, fine/);
    const parsed = await parseConfigText('command[c]=/bin/true\nhawatch_watch[c]=tail:/var/log/x.log\nhawatch_watch_match[c]=is DOWN\n');
    expect(parsed.watches.get('c')).toMatchObject({ spec: { kind: 'tail', path: '/var/log/x.log' }, match: /is DOWN/ });
    expect(configProblems(parsed, false)).toEqual([]);
  });
});

describe('building blocks', () => {
  it('LineSplitter keeps at most MAX_LINE bytes of a line, whatever its length', () => {
    const lines: [number, boolean][] = [];
    const s = new LineSplitter((l, over) => lines.push([l.length, over]));
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    for (let i = 0; i < 10; i++) s.push(chunk);
    s.push(Buffer.from('\nshort\n'));
    expect(lines).toEqual([[MAX_LINE, true], [5, false]]);
  });

  it('Coalescer: one run in flight, the changes during it folded into one more', async () => {
    let running = 0;
    let most = 0;
    const c = new Coalescer(async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 50));
      running--;
    }, 0);
    for (let i = 0; i < 1000; i++) c.fire();
    await new Promise((r) => setTimeout(r, 20));
    for (let i = 0; i < 1000; i++) c.fire();
    await new Promise((r) => setTimeout(r, 300));
    expect(c.runs).toBe(2);
    expect(most).toBe(1);
  });
});
