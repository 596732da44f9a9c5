/**
 * bench:failover (issue 13 item 5): fault-to-mail time of hawatch against nagios4, on the
 * same lab, in the same run. The lab (scripts/lab/lab.mjs) builds the seed's cluster with
 * hawatch-agent on every node and hawatch-server (watchers and push on) on the admin node;
 * this script adds, in the admin node's namespace, nagios4 instances running the
 * configuration `hawatch-server export nagios` writes from the same inventory (check_nrpe
 * against the same agents), one per schedule (default: 60 s / 3 attempts and 10 s / 3).
 * Every observer mails the same SMTP receiver; mails are told apart by their sender.
 *
 * Per fault and run: inject, wait until every observer has sent what it will send (or its
 * deadline), heal, wait until every observer sees everything OK again. Reported per fault
 * and observer: median and worst seconds from injection to the first mail received, mails
 * for the problem and for the recovery, and false alerts (mails while healthy, mails for
 * a fault whose right answer is none: a failover).
 *
 * Usage (root): npm run bench:failover -- [--runs 3] [--nagios60-runs 1] [--faults a,b]
 *   [--observers hawatch,nagios10,nagios60] [--quiet 60] [--json FILE] [--keep]
 *        npm run bench:failover -- --report A.json,B.json   (the table over saved runs)
 */
import { existsSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { startNagios, type NagiosHandle } from './nagios.ts';

const ROOT = resolve(process.env.HAWATCH_ROOT ?? process.cwd());

interface Mail {
  readonly at: number;
  readonly from: string;
  readonly to: readonly string[];
  readonly subject: string;
}
interface Fault {
  readonly what: string;
  readonly expect: { mail: number; sms: number; recoveryMail: number; recoverySms: number };
  inject(): Promise<void>;
  heal(): Promise<void>;
}
interface LabModule {
  readonly ADMIN_NS: string;
  readonly FAULTS: Record<string, Fault>;
  up(): Promise<{ mail: string; inventory: string; serverUrl: string; ca: string; stateDir: string }>;
  waitHealthy(timeoutMs?: number): Promise<void>;
  deadDaemons(): string[];
  down(): Promise<void>;
}

interface Observer {
  readonly name: string;
  /** Mails of this observer: hawatch's own sender, or the nagios instance's. */
  readonly owns: (m: Mail) => boolean;
  /** How long a fault may take to show at the latest (deadline of the wait). */
  readonly deadlineMs: number;
  /** Everything back to OK, in this observer's own view. */
  healthy(): Promise<boolean>;
  nagios?: NagiosHandle;
  /** Runs this observer takes part in (nagios60 is slow: fewer runs). */
  runs: number;
}

const { values: argv } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'nagios60-runs': { type: 'string', default: '1' },
    faults: { type: 'string' },
    observers: { type: 'string', default: 'hawatch,nagios10,nagios60' },
    quiet: { type: 'string', default: '60' },
    json: { type: 'string' },
    keep: { type: 'boolean', default: false },
    report: { type: 'string' },
  },
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function readMails(file: string): Mail[] {
  if (!existsSync(file)) return [];
  const out: Mail[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as Mail);
    } catch {
      /* a line being written */
    }
  }
  return out;
}

/** Nagios' own view from status.dat: every host and service checked and OK. */
function nagiosAllOk(dir: string): boolean {
  let text: string;
  try {
    text = readFileSync(join(dir, 'status.dat'), 'utf8');
  } catch {
    return false;
  }
  const blocks = text.split(/\n(?=(?:hoststatus|servicestatus) \{)/).filter((b) => /^(hoststatus|servicestatus) \{/.test(b));
  if (blocks.length === 0) return false;
  for (const b of blocks) {
    // A host without a check command (the admin node, a local host) is never checked: UP.
    if (b.startsWith('servicestatus') && !/\n\s*has_been_checked=1/.test(b)) return false;
    if (!/\n\s*current_state=0/.test(b)) return false;
  }
  return true;
}

async function waitUntil(what: string, fn: () => Promise<boolean> | boolean, ms: number, every = 500): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return true;
    await sleep(every);
  }
  process.stderr.write(`bench:failover: gave up waiting for ${what} after ${Math.round(ms / 1000)} s\n`);
  return false;
}

const median = (xs: readonly number[]): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

interface Sample {
  fault: string;
  run: number;
  observer: string;
  secondsToMail: number | null;
  problemMails: number;
  recoveryMails: number;
  expectedMails: number;
}

/** The per-fault table: median and worst seconds to the first mail, mails seen, ratios. */
function table(samples: readonly Sample[], faultNames: readonly string[], names: readonly string[], faults: Record<string, Fault>): string[] {
  const lines = [
    `| fault | ${names.map((n) => `${n} median / worst s`).join(' | ')} | ${names.map((n) => `${n} mails (problem+recovery)`).join(' | ')} | hawatch / nagios60 | hawatch / nagios10 |`,
    `| --- | ${names.map(() => '---').join(' | ')} | ${names.map(() => '---').join(' | ')} | --- | --- |`,
  ];
  const fmt = (x: number | null): string => (x === null ? '-' : x.toFixed(1));
  for (const fault of faultNames) {
    const per = (o: string): Sample[] => samples.filter((s) => s.fault === fault && s.observer === o);
    const times = (o: string): number[] => per(o).map((s) => s.secondsToMail).filter((x): x is number => x !== null);
    const cell = (o: string): string => {
      const t = times(o);
      const missing = per(o).length - t.length;
      const n = per(o).length;
      return t.length ? `${fmt(median(t))} / ${fmt(Math.max(...t))} (n=${n})${missing && (per(o)[0]?.expectedMails ?? 0) > 0 ? ` (${missing} missed)` : ''}` : n ? `- (n=${n})` : '-';
    };
    const mails = (o: string): string => [...new Set(per(o).map((s) => `${s.problemMails}+${s.recoveryMails}`))].join(', ') || '-';
    const ratio = (b: string): string => {
      const h = median(times('hawatch'));
      const n = median(times(b));
      return h !== null && n !== null && n > 0 ? (h / n).toPrecision(2) : '-';
    };
    lines.push(`| ${fault} (expected ${faults[fault]!.expect.mail}+${faults[fault]!.expect.recoveryMail}) | ${names.map(cell).join(' | ')} | ${names.map(mails).join(' | ')} | ${ratio('nagios60')} | ${ratio('nagios10')} |`);
  }
  return lines;
}

/**
 * --report A.json,B.json: the table over the samples of several runs of this script (same
 * lab, same machine), without running anything; for medians over runs that did not fit one
 * sitting. Each file's runs are kept apart (file index and run).
 */
async function reportFiles(files: readonly string[]): Promise<number> {
  const lab = (await import(pathToFileURL(join(ROOT, 'scripts', 'lab', 'lab.mjs')).href)) as LabModule;
  const samples: Sample[] = [];
  const falseAlerts = new Map<string, number>();
  const loads: number[] = [];
  const notes: string[] = [];
  files.forEach((file, i) => {
    const d = JSON.parse(readFileSync(file, 'utf8')) as { samples: Sample[]; falseAlerts: Record<string, number>; loads: number[]; aborted?: string | null; partial?: boolean };
    for (const s of d.samples) samples.push({ ...s, run: (i + 1) * 100 + s.run });
    for (const [k, v] of Object.entries(d.falseAlerts)) falseAlerts.set(k, (falseAlerts.get(k) ?? 0) + v);
    loads.push(...d.loads);
    const runs = new Set(d.samples.map((s) => s.run)).size;
    notes.push(`${file}: ${d.samples.length} samples, ${runs} run(s)${d.partial ? ', stopped early (partial)' : ''}${d.aborted ? `, aborted: ${d.aborted}` : ''}`);
  });
  const faultNames = Object.keys(lab.FAULTS).filter((f) => samples.some((s) => s.fault === f));
  const names = ['hawatch', 'nagios10', 'nagios60'].filter((n) => samples.some((s) => s.observer === n));
  const fmt = (x: number | null): string => (x === null ? '-' : x.toFixed(1));
  process.stdout.write(
    [
      `bench:failover report over ${files.length} file(s):`,
      ...notes.map((n) => `  ${n}`),
      '',
      ...table(samples, faultNames, names, lab.FAULTS),
      '',
      `false alerts: ${names.map((n) => `${n} ${falseAlerts.get(n) ?? 0}`).join(', ')}`,
      `load average (1 min) when each fault was healed: median ${fmt(median(loads))}, max ${fmt(loads.length ? Math.max(...loads) : null)}`,
    ].join('\n') + '\n',
  );
  return 0;
}

async function main(): Promise<number> {
  if (argv.report) return reportFiles(argv.report.split(','));
  if (process.getuid?.() !== 0) throw new Error('run as root: the lab needs namespaces and nagios4 drops to the nagios user');
  const lab = (await import(pathToFileURL(join(ROOT, 'scripts', 'lab', 'lab.mjs')).href)) as LabModule;
  const faultNames = argv.faults ? argv.faults.split(',') : Object.keys(lab.FAULTS);
  for (const f of faultNames) if (!lab.FAULTS[f]) throw new Error(`unknown fault ${f}: one of ${Object.keys(lab.FAULTS).join(', ')}`);
  const runs = Number(argv.runs);
  const wanted = argv.observers.split(',');
  const samples: Sample[] = [];
  const falseAlerts = new Map<string, number>();
  const loads: number[] = [];
  let aborted: string | null = null;
  const started = Date.now();
  const observers: Observer[] = [];
  // Ctrl-C or a kill: stop the nagios instances and take the lab down before leaving.
  let stopping = false;
  const cleanup = async (): Promise<void> => {
    for (const o of observers) await o.nagios?.stop().catch(() => undefined);
    if (!argv.keep) await lab.down().catch((e: Error) => process.stderr.write(`bench:failover: lab down: ${e.message}\n`));
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`bench:failover: ${sig}: taking the lab down\n`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  const p = await lab.up().catch(async (e: Error) => {
    await lab.down().catch(() => undefined);
    throw e;
  });
  try {
    await lab.waitHealthy(180_000);
    if (wanted.includes('hawatch')) {
      observers.push({ name: 'hawatch', owns: (m) => !m.from.endsWith('@nagios.lab'), deadlineMs: 60_000, healthy: () => lab.waitHealthy(2000).then(() => true, () => false), runs });
    }
    // The cluster rules reach Nagios through hawatch-query (export's default) over the lab's HTTPS: a
    // wrapper gives it the lab CA (Nagios runs commands with a clean environment).
    const query = join(p.stateDir, 'hawatch-query');
    writeFileSync(query, `#!/bin/sh\nexec env NODE_EXTRA_CA_CERTS=${p.ca} ${process.execPath} ${join(ROOT, 'dist', 'bin', 'hawatch-query.cjs')} "$@"\n`);
    chmodSync(query, 0o755);
    for (const [name, intervalS, n] of [['nagios10', 10, runs], ['nagios60', 60, Number(argv['nagios60-runs'])]] as const) {
      if (!wanted.includes(name) || n < 1) continue;
      const dir = join(p.stateDir, name);
      const h = startNagios({ name, dir, inventoryFile: p.inventory, serverBin: join(ROOT, 'dist', 'bin', 'hawatch-server.cjs'), queryCommand: query, serverUrl: p.serverUrl.replace(/\/$/, ''), netns: lab.ADMIN_NS, smtp: { host: '127.0.0.1', port: 2525 }, intervalS, attempts: 3, copyForNagios: [dirname(p.ca)] });
      observers.push({ name, nagios: h, owns: (m) => m.from === `${name}@nagios.lab`, deadlineMs: (intervalS * 4 + 30) * 1000, healthy: async () => nagiosAllOk(dir), runs: n });
    }
    for (const o of observers) {
      if (o.nagios) await waitUntil(`${o.name} to see everything OK`, o.healthy, o.deadlineMs * 2, 2000);
    }
    // Healthy period: any mail now is a false alert.
    const q0 = readMails(p.mail).length;
    await sleep(Number(argv.quiet) * 1000);
    for (const m of readMails(p.mail).slice(q0)) for (const o of observers) if (o.owns(m)) falseAlerts.set(o.name, (falseAlerts.get(o.name) ?? 0) + 1);

    runs: for (let run = 1; run <= runs; run++) {
      for (const name of faultNames) {
        const f = lab.FAULTS[name]!;
        // A dead daemon (the SMTP receiver once) would make every later figure a lie: stop.
        const dead = lab.deadDaemons();
        if (dead.length) {
          aborted = `lab daemons died before run ${run} ${name}: ${dead.join(', ')}; the figures before it are below, the rest was not measured`;
          break runs;
        }
        const active = observers.filter((o) => o.runs >= run);
        const m0 = readMails(p.mail).length;
        const t0 = Date.now();
        process.stderr.write(`bench:failover: run ${run} ${name}: inject\n`);
        await f.inject();
        // Wait for every observer's problem mails, or its deadline when none is expected (a
        // failover: whatever arrives within the deadline is a false alert).
        const mine = (o: Observer): Mail[] => readMails(p.mail).slice(m0).filter((m) => o.owns(m));
        await Promise.all(
          active.map((o) =>
            f.expect.mail > 0
              ? waitUntil(`${o.name} mails for ${name}`, () => mine(o).length >= f.expect.mail, o.deadlineMs, 200).then(() => sleep(3000))
              : sleep(o.name === 'hawatch' ? 15_000 : o.deadlineMs),
          ),
        );
        const healAt = Date.now();
        loads.push(loadavg()[0]!);
        await f.heal();
        await Promise.all(active.map((o) => waitUntil(`${o.name} to see ${name} healed`, o.healthy, o.deadlineMs * 2, 1000)));
        // Quiet before the next fault: Nagios' notifier runs after the state change, and a slow
        // one (a loaded machine) delivered its RECOVERY into the next fault's window. Wait until
        // no mail came for 10 s (at most 60 s).
        for (let n = readMails(p.mail).length, quietSince = Date.now(), end = Date.now() + 60_000; Date.now() - quietSince < 10_000 && Date.now() < end; ) {
          await sleep(1000);
          const now = readMails(p.mail).length;
          if (now !== n) [n, quietSince] = [now, Date.now()];
        }
        const all = readMails(p.mail).slice(m0);
        for (const o of active) {
          const ms = all.filter((m) => o.owns(m));
          const problem = ms.filter((m) => m.at < healAt);
          samples.push({
            fault: name,
            run,
            observer: o.name,
            secondsToMail: problem.length ? (problem[0]!.at - t0) / 1000 : null,
            problemMails: problem.length,
            recoveryMails: ms.length - problem.length,
            expectedMails: f.expect.mail,
          });
          if (f.expect.mail === 0) falseAlerts.set(o.name, (falseAlerts.get(o.name) ?? 0) + ms.length);
        }
        const got = samples.slice(-active.length).map((s) => `${s.observer} ${s.secondsToMail ?? '-'} s, mails ${s.problemMails}+${s.recoveryMails}`);
        process.stderr.write(`bench:failover: run ${run} ${name}: ${got.join('; ')} (load ${loads[loads.length - 1]!.toFixed(1)})\n`);
        // Kept as it goes: a run stopped early still leaves what it measured.
        if (argv.json) writeFileSync(argv.json, JSON.stringify({ partial: true, samples, falseAlerts: Object.fromEntries(falseAlerts), loads }, null, 2));
      }
    }
  } finally {
    if (!stopping) await cleanup();
  }

  const names = observers.map((o) => o.name);
  const lines = table(samples, faultNames, names, lab.FAULTS);
  const fmt = (x: number | null): string => (x === null ? '-' : x.toFixed(1));
  const report = [
    `bench:failover: ${runs} run(s) (nagios60: ${argv['nagios60-runs']}), ${faultNames.length} faults, ${((Date.now() - started) / 60000).toFixed(1)} min`,
    '',
    ...lines,
    '',
    `false alerts (mails while healthy for ${argv.quiet} s, and for faults whose right answer is none): ${names.map((n) => `${n} ${falseAlerts.get(n) ?? 0}`).join(', ')}`,
    `load average (1 min) when each fault was healed: median ${fmt(median(loads))}, max ${fmt(loads.length ? Math.max(...loads) : null)} (${cpus().length} CPUs)`,
    ...(aborted ? ['', `ABORTED: ${aborted}`] : []),
  ].join('\n');
  process.stdout.write(`${report}\n`);
  if (argv.json) writeFileSync(argv.json, JSON.stringify({ samples, falseAlerts: Object.fromEntries(falseAlerts), loads, aborted, report }, null, 2));
  return aborted ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    process.stderr.write(`bench:failover: ${e.message}\n`);
    process.exit(1);
  },
);
