import { PluginError, type PluginDescriptor } from '../../nagios/plugin.ts';
import type { Capture } from './capture.ts';
import { collect } from './collect.ts';
import { connectionSettings, saveCapture } from './cli.ts';
import { evaluate, MODES, type Mode } from './evaluate.ts';
import { parseCapture, parseCaptureText } from './parse.ts';

function seconds(text: string | undefined, name: string, dflt: number): number {
  if (text === undefined) return dflt;
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text.trim()) || !(n >= 0) || n > 3600) throw new PluginError(`invalid --${name} '${text}': expected seconds (0-3600)`);
  return n;
}

/** `db.table` -> `` `db`.`table` `` (only plain identifiers: this text goes into SQL). */
export function quoteTable(text: string): string {
  const parts = text.split('.');
  if (parts.length !== 2 || !parts.every((p) => /^[A-Za-z0-9_$]{1,64}$/.test(p))) {
    throw new PluginError(`invalid --heartbeat-table '${text}': expected DATABASE.TABLE with letters, digits, '_' or '$' (e.g. percona.heartbeat)`);
  }
  return parts.map((p) => `\`${p}\``).join('.');
}

const descriptor: PluginDescriptor = {
  name: 'check_ha_mysql',
  prefix: 'MYSQL REPLICATION',
  description:
    'Checks MySQL/MariaDB master-master (or ring) replication in both directions: IO and SQL threads, the last IO/SQL errors, lag from a heartbeat table or Seconds_Behind_Master, positions that stop advancing, and the master-master hazards: a missing direction, equal server_id, colliding auto_increment settings, and writability against --mode. Handles MySQL 5.7/8.0/8.4 (SHOW SLAVE/REPLICA STATUS) and MariaDB 10.x/11.x (SHOW ALL SLAVES STATUS, multi-source).',
  thresholds: { subject: 'replication lag in seconds, per direction', warning: '60', critical: '300' },
  inputFile: true,
  options: [
    { name: 'hostname', short: 'H', type: 'string', multiple: true, valueName: '[NAME=]HOST[:PORT]', help: "A server of the set; repeat or comma-separate (-H db1=10.0.0.1,db2=10.0.0.2:3307). A path starting with '/' is a Unix socket. Default: host/socket from the option file, else localhost." },
    { name: 'port', short: 'P', type: 'string', valueName: 'PORT', help: 'Port for servers given without one.', default: '3306' },
    { name: 'user', short: 'u', type: 'string', valueName: 'USER', help: 'MySQL user (default: user= from the option file, MYSQL_USER, or the login name). Passwords are never taken from the command line.' },
    { name: 'defaults-file', type: 'string', restricted: 'file', valueName: 'PATH', help: 'Option file with a [client] (or [check_ha_mysql]) group holding user= and password= (default ~/.my.cnf; then MYSQL_PWD).' },
    { name: 'mode', type: 'string', valueName: 'MODE', help: `${MODES.join('|')}: active-passive wants exactly one writable server (read_only=OFF), active-active wants all writable; any judges no writability.`, default: 'any' },
    { name: 'heartbeat-table', type: 'string', valueName: 'DB.TABLE', help: 'pt-heartbeat style table (ts, server_id); lag = now - newest ts of the source\'s server_id. Without it, lag is Seconds_Behind_Master.' },
    { name: 'heartbeat-utc', type: 'boolean', help: 'The heartbeat ts is UTC (pt-heartbeat --utc); without it ts is read in the server\'s time zone.' },
    { name: 'write-heartbeat', type: 'boolean', help: 'Write this run\'s heartbeat (ts, server_id) on each writable server, then wait up to --heartbeat-wait for it to reach the peers. Needs INSERT, UPDATE on the table.' },
    { name: 'heartbeat-wait', type: 'string', valueName: 'SECONDS', help: 'Longest wait for a heartbeat written by --write-heartbeat.', default: '3' },
    { name: 'progress-interval', type: 'string', valueName: 'SECONDS', help: 'Take a second sample this long after the first and flag IO/SQL threads whose position does not advance (0 = one sample).', default: '0' },
    { name: 'save-input', type: 'string', restricted: 'file', valueName: 'PATH', help: 'Also write the collected rows as JSON to PATH, for --input-file.' },
  ],
  notes: [
    'States: a stopped, connecting or failed IO/SQL thread is CRITICAL (with Last_IO_Error/Last_SQL_Error quoted); lag',
    'is judged by -w/-c; a server that is down, hung or slower than -t is CRITICAL; a refused login or a missing',
    'privilege is UNKNOWN. Least privilege (MariaDB 10.5+): GRANT SLAVE MONITOR, BINLOG MONITOR ON *.*;',
    'MySQL: GRANT REPLICATION CLIENT ON *.*; plus SELECT on the heartbeat table. See plugins/mysql/README.md.',
    '',
    'Examples:',
    '  check_ha_mysql -H db1=10.0.0.1,db2=10.0.0.2 --mode active-passive --heartbeat-table percona.heartbeat -w 30 -c 120',
    '  check_ha_mysql -H db1:3306 -H db2:3306 --defaults-file /etc/nagios/my.cnf',
  ].join('\n'),
  async run(ctx) {
    const mode = (ctx.string('mode') ?? 'any') as Mode;
    if (!MODES.includes(mode)) throw new PluginError(`invalid --mode '${mode}': expected ${MODES.join(', ')}`);
    const table = ctx.string('heartbeat-table');
    const heartbeatTable = table === undefined ? undefined : quoteTable(table);
    const settings = { mode, thresholds: ctx.thresholds };

    const input = await ctx.readInput();
    let capture: Capture;
    if (input !== undefined) {
      capture = parseCaptureText(input);
    } else {
      if (ctx.flag('write-heartbeat') && !heartbeatTable) throw new PluginError('--write-heartbeat needs --heartbeat-table DB.TABLE');
      const { credentials, targets } = connectionSettings(ctx, 'check_ha_mysql');
      capture = await collect(ctx, {
        targets,
        credentials,
        heartbeatTable,
        heartbeatUtc: ctx.flag('heartbeat-utc'),
        writeHeartbeat: ctx.flag('write-heartbeat'),
        heartbeatWaitMs: seconds(ctx.string('heartbeat-wait'), 'heartbeat-wait', 3) * 1000,
        progressIntervalMs: seconds(ctx.string('progress-interval'), 'progress-interval', 0) * 1000,
      });
      await saveCapture(ctx.string('save-input'), capture);
    }
    return evaluate(parseCapture(capture), settings);
  },
};

export default descriptor;
