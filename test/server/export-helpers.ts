/** The real validators of exported configurations: nagios4 -v and icinga2 daemon -C, each in its own folder under `dir`. */
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderNagiosMainConfig } from '../../nagios/config.ts';
import { stopChild } from '../support/process.ts';
import { requireFile, requireUser } from '../support/require.ts';
import { waitFor } from '../support/wait.ts';

const NAGIOS = '/usr/sbin/nagios4';
const ICINGA = '/usr/sbin/icinga2';
let n = 0;

export function nagiosVerify(dir: string, objects: string): { status: number | null; out: string } {
  requireFile(NAGIOS, 'nagios4-core');
  const { uid, gid } = requireUser('nagios', 'nagios4-core');
  const sub = join(dir, `nagios-${++n}`);
  mkdirSync(join(sub, 'checkresults'), { recursive: true });
  chmodSync(sub, 0o755);
  // Nagios drops to its user and writes temp files and check results there.
  chownSync(sub, uid, gid);
  chownSync(join(sub, 'checkresults'), uid, gid);
  writeFileSync(join(sub, 'hawatch.cfg'), objects);
  writeFileSync(join(sub, 'resource.cfg'), '$USER1$=/usr/lib/nagios/plugins\n');
  writeFileSync(join(sub, 'nagios.cfg'), renderNagiosMainConfig({ varDir: sub, cfgFiles: [join(sub, 'hawatch.cfg')], resourceFile: join(sub, 'resource.cfg') }));
  const r = spawnSync(NAGIOS, ['-v', join(sub, 'nagios.cfg')], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: r.stdout + r.stderr };
}

export function icingaValidate(dir: string, objects: string): { status: number | null; out: string } {
  requireFile(ICINGA, 'icinga2-bin');
  const sub = join(dir, `icinga-${++n}`);
  for (const d of ['cache', 'data', 'log', 'spool', 'run']) mkdirSync(join(sub, d), { recursive: true });
  writeFileSync(join(sub, 'hawatch.conf'), objects);
  // The stock icinga2.conf includes <itl>; everything else stays in this folder.
  writeFileSync(join(sub, 'icinga2.conf'), `include <itl>\ninclude "hawatch.conf"\n`);
  const user = spawnSync('id', ['-un'], { encoding: 'utf8' }).stdout.trim();
  const group = spawnSync('id', ['-gn'], { encoding: 'utf8' }).stdout.trim();
  const defs = { RunAsUser: user, RunAsGroup: group, ConfigDir: sub, CacheDir: join(sub, 'cache'), DataDir: join(sub, 'data'), LogDir: join(sub, 'log'), SpoolDir: join(sub, 'spool'), InitRunDir: join(sub, 'run') };
  const args = ['daemon', '-C', '-c', join(sub, 'icinga2.conf'), ...Object.entries(defs).map(([k, v]) => `-D${k}=${v}`)];
  const r = spawnSync(ICINGA, args, { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: r.stdout + r.stderr };
}


export interface RunningNagios {
  /** Writes one external command (SCHEDULE_FORCED_SVC_CHECK;...) to the command pipe. */
  command(line: string): void;
  /** Service results Nagios processed so far: host, service, state, output. */
  results(): { host: string; service: string; state: number; output: string }[];
  stop(): Promise<void>;
}

/** The real nagios4 daemon on an object file, in its own folder; results read from a perfdata file. */
export async function startNagios(dir: string, objects: string): Promise<RunningNagios> {
  requireFile(NAGIOS, 'nagios4-core');
  const { uid, gid } = requireUser('nagios', 'nagios4-core');
  const sub = join(dir, `nagios-run-${++n}`);
  mkdirSync(join(sub, 'checkresults'), { recursive: true });
  chmodSync(sub, 0o755);
  chownSync(sub, uid, gid);
  chownSync(join(sub, 'checkresults'), uid, gid);
  writeFileSync(join(sub, 'hawatch.cfg'), objects);
  writeFileSync(join(sub, 'resource.cfg'), '$USER1$=/usr/lib/nagios/plugins\n');
  const perf = join(sub, 'results.tsv');
  writeFileSync(
    join(sub, 'nagios.cfg'),
    renderNagiosMainConfig({
      varDir: sub,
      cfgFiles: [join(sub, 'hawatch.cfg')],
      resourceFile: join(sub, 'resource.cfg'),
      extra: {
        check_external_commands: true,
        command_check_interval: '-1',
        process_performance_data: true,
        service_perfdata_file: perf,
        service_perfdata_file_template: '$HOSTNAME$\\t$SERVICEDESC$\\t$SERVICESTATEID$\\t$SERVICEOUTPUT$',
        service_perfdata_file_mode: 'a',
        service_perfdata_file_processing_interval: 0,
        // Scheduled checks would start within 30 minutes; the test forces the ones it needs.
        max_service_check_spread: 30,
      },
    }),
  );
  for (const f of ['hawatch.cfg', 'resource.cfg', 'nagios.cfg']) chmodSync(join(sub, f), 0o644);
  const child = spawn(NAGIOS, [join(sub, 'nagios.cfg')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const pipe = join(sub, 'nagios.cmd');
  await waitFor('the nagios4 command pipe', () => existsSync(pipe), 20_000, { stopWhen: () => (child.exitCode !== null ? `nagios4 exited: ${out}` : undefined) });
  return {
    command: (line) => appendFileSync(pipe, `[${Math.floor(Date.now() / 1000)}] ${line}\n`),
    results: () => {
      if (!existsSync(perf)) return [];
      return readFileSync(perf, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const [host = '', service = '', state = '', ...output] = l.split('\t');
          return { host, service, state: Number(state), output: output.join('\t') };
        });
    },
    stop: () => stopChild(child, 10_000),
  };
}
