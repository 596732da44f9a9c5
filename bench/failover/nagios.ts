/**
 * The nagios4 side of bench:failover: Debian's nagios4 run on the configuration that
 * `hawatch-server export nagios` writes from the lab's inventory, checking the same agents
 * with check_nrpe from the admin node's namespace, and mailing its notifications to the
 * lab's SMTP receiver. Only three things differ from the export, and they are the point
 * of the comparison:
 *   - the schedule: every service and host checked every `intervalS` seconds, retried every
 *     `intervalS` seconds, HARD after `attempts` results (Nagios' usual 60 s / 3, or tuned);
 *     done with interval_length (the seconds in one "interval unit") and 1-unit intervals;
 *   - the mail command: the export pipes to /usr/bin/mail, which needs an MTA; here a small
 *     Python smtplib sender talks to the receiver directly (same subject and body);
 *   - notifications are on (the export leaves that to the admin's nagios.cfg).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, readdirSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderNagiosMainConfig } from '../../nagios/config.ts';

export interface NagiosRun {
  /** A short name: it tags the mails (X-Hawatch-Observer header, sender). */
  readonly name: string;
  /** Its own folder (created, handed to the nagios user). */
  readonly dir: string;
  readonly inventoryFile: string;
  /** The built hawatch-server program (for export, and for the cluster rules: `query`). */
  readonly serverBin: string;
  /** The program Nagios runs for the cluster rules (`query`); default serverBin. */
  readonly queryCommand?: string;
  /** The hawatch-server API as the admin namespace reaches it (cluster rules are asked there). */
  readonly serverUrl: string;
  /** Network namespace to run in (the admin node's), or none. */
  readonly netns?: string;
  readonly smtp: { readonly host: string; readonly port: number };
  readonly intervalS: number;
  readonly attempts: number;
  /**
   * Folders whose files Nagios' checks read (the lab's TLS client key is root's): copied into
   * the run's folder, given to the nagios user, and the export's paths pointed at the copy.
   */
  readonly copyForNagios?: readonly string[];
}

export interface NagiosHandle {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  stop(): Promise<void>;
}

const NAGIOS = '/usr/sbin/nagios4';
const PLUGINS = '/usr/lib/nagios/plugins';

function require(path: string, pkg: string): void {
  if (!existsSync(path)) throw new Error(`${path} is missing: install the Debian package ${pkg}`);
}

function nagiosIds(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('nagios:'));
  if (!line) throw new Error('no nagios user: install nagios4-core');
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

/** The notifier Nagios runs: subject and recipient as arguments, body on stdin. */
const NOTIFY_PY = `import smtplib, sys, email.message
host, port, observer, to, subject = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
m = email.message.EmailMessage()
m['From'] = observer + '@nagios.lab'
m['To'] = to
m['Subject'] = subject
m['X-Hawatch-Observer'] = observer
m.set_content(sys.stdin.read())
with smtplib.SMTP(host, port, timeout=10) as s:
    s.send_message(m)
`;

/** The export with the bench's schedule and mail command; exported for a test of the rewrite. */
export function rewriteExport(text: string, o: { notifyPy: string; name: string; smtp: { host: string; port: number }; attempts: number }): string {
  const send = (subject: string): string => `/usr/bin/python3 ${o.notifyPy} ${o.smtp.host} ${o.smtp.port} ${o.name} $CONTACTEMAIL$ "${subject}"`;
  let out = text
    .replace(/\|\s*\/usr\/bin\/mail -s "(\*\* \$NOTIFICATIONTYPE\$ Host Alert: [^"]*)" \$CONTACTEMAIL\$/g, (_m, subj: string) => `| ${send(subj)}`)
    .replace(/\|\s*\/usr\/bin\/mail -s "(\*\* \$NOTIFICATIONTYPE\$ Service Alert: [^"]*)" \$CONTACTEMAIL\$/g, (_m, subj: string) => `| ${send(subj)}`);
  if (out.includes('/usr/bin/mail')) throw new Error('the export has a mail command this bench does not know: update bench/failover/nagios.ts');
  // One interval unit between checks and between retries; HARD after `attempts` results.
  out = out
    .replace(/^(\s*check_interval\s+)\S+/gm, '$11')
    .replace(/^(\s*retry_interval\s+)\S+/gm, '$11')
    .replace(/^(\s*max_check_attempts\s+)\S+/gm, `$1${o.attempts}`);
  return out;
}

export function startNagios(r: NagiosRun): NagiosHandle {
  require(NAGIOS, 'nagios4-core');
  require(`${PLUGINS}/check_nrpe`, 'nagios-nrpe-plugin');
  require('/usr/bin/python3', 'python3');
  const { uid, gid } = nagiosIds();
  mkdirSync(join(r.dir, 'checkresults'), { recursive: true });
  const notifyPy = join(r.dir, 'notify.py');
  writeFileSync(notifyPy, NOTIFY_PY);
  const exp = spawnSync(process.execPath, [r.serverBin, 'export', 'nagios', '--config', r.inventoryFile, '--server-url', r.serverUrl, '--server-command', r.queryCommand ?? r.serverBin, '--plugin-dir', PLUGINS], { encoding: 'utf8', timeout: 60_000 });
  if (exp.status !== 0) throw new Error(`hawatch-server export nagios failed: ${(exp.stderr || exp.stdout).trim().split('\n').slice(-3).join(' / ')}`);
  let text = rewriteExport(exp.stdout, { notifyPy, name: r.name, smtp: r.smtp, attempts: r.attempts });
  for (const [i, from] of (r.copyForNagios ?? []).entries()) {
    const to = join(r.dir, `files${i}`);
    cpSync(from, to, { recursive: true });
    for (const f of readdirSync(to)) chownSync(join(to, f), uid, gid);
    chownSync(to, uid, gid);
    text = text.split(from.replace(/\/+$/, '') + '/').join(to + '/');
  }
  writeFileSync(join(r.dir, 'hawatch.cfg'), text);
  writeFileSync(join(r.dir, 'resource.cfg'), `$USER1$=${PLUGINS}\n`);
  writeFileSync(
    join(r.dir, 'nagios.cfg'),
    renderNagiosMainConfig({
      varDir: r.dir,
      cfgFiles: [join(r.dir, 'hawatch.cfg')],
      resourceFile: join(r.dir, 'resource.cfg'),
      statusUpdateInterval: 5,
      extra: {
        interval_length: r.intervalS,
        enable_notifications: true,
        // First round within one interval (Nagios' default spread is 30 minutes).
        max_service_check_spread: 1,
        max_host_check_spread: 1,
        // The stock reaper runs every 10 s over the check-result spool; at 1 s nothing of
        // Nagios' figures comes from it (in Nagios 4 the workers' results arrive directly).
        check_result_reaper_frequency: 1,
      },
    }),
  );
  for (const f of ['hawatch.cfg', 'resource.cfg', 'nagios.cfg', 'notify.py']) chmodSync(join(r.dir, f), 0o644);
  chmodSync(r.dir, 0o755);
  chownSync(r.dir, uid, gid);
  chownSync(join(r.dir, 'checkresults'), uid, gid);
  const verify = spawnSync(NAGIOS, ['-v', join(r.dir, 'nagios.cfg')], { encoding: 'utf8', timeout: 60_000 });
  if (verify.status !== 0) throw new Error(`nagios4 -v refused the bench config (${r.dir}): ${verify.stdout.split('\n').filter((l) => /Error/.test(l)).slice(0, 3).join(' / ')}`);
  const logFile = join(r.dir, 'nagios.out');
  const out = openSync(logFile, 'a');
  const cmd = r.netns ? ['ip', ['netns', 'exec', r.netns, NAGIOS, join(r.dir, 'nagios.cfg')]] as const : [NAGIOS, [join(r.dir, 'nagios.cfg')]] as const;
  const child = spawn(cmd[0], [...cmd[1]], { detached: true, stdio: ['ignore', out, out] });
  return {
    name: r.name,
    child,
    logFile: join(r.dir, 'nagios.log'),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((res) => child.once('exit', () => res()));
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        /* gone */
      }
      const t = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, 5000);
      await gone;
      clearTimeout(t);
    },
  };
}
