/** The real validators of exported configurations: nagios4 -v and icinga2 daemon -C, each in its own folder under `dir`. */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderNagiosMainConfig } from '../../nagios/config.ts';
import { requireFile, requireUser } from '../support/require.ts';

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

