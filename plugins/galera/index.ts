import { PluginError, type PluginDescriptor } from '../../nagios/plugin.ts';
import { parseRange } from '../../nagios/range.ts';
import { connectionSettings, saveCapture } from '../mysql/cli.ts';
import { collect } from './collect.ts';
import { evaluate } from './evaluate.ts';
import { parseInput, parseNode, type GaleraCapture } from './parse.ts';

const descriptor: PluginDescriptor = {
  name: 'check_ha_galera',
  prefix: 'GALERA',
  description:
    "Checks Galera cluster nodes (MariaDB/Percona XtraDB Cluster) from SHOW GLOBAL STATUS LIKE 'wsrep_%': cluster status Primary, local state Synced (Donor/Desynced, Joining, Joined WARNING), wsrep_ready and wsrep_connected ON, cluster size against -w/-c, and the flow control paused fraction.",
  thresholds: { subject: 'the cluster size (number of nodes)', warning: '3:', critical: '2:' },
  inputFile: true,
  options: [
    { name: 'hostname', short: 'H', type: 'string', multiple: true, valueName: '[NAME=]HOST[:PORT]', help: "Node(s) to check; repeat or comma-separate. A path starting with '/' is a Unix socket. Default: host/socket from the option file, else localhost." },
    { name: 'port', short: 'P', type: 'string', valueName: 'PORT', help: 'Port for nodes given without one.', default: '3306' },
    { name: 'user', short: 'u', type: 'string', valueName: 'USER', help: 'MySQL user (default: user= from the option file, MYSQL_USER, or the login name). Passwords are never taken from the command line.' },
    { name: 'defaults-file', type: 'string', restricted: 'file', valueName: 'PATH', help: 'Option file with a [client] (or [check_ha_galera]) group holding user= and password= (default ~/.my.cnf; then MYSQL_PWD).' },
    { name: 'fc-warning', type: 'string', valueName: 'RANGE', help: 'Warning range for wsrep_flow_control_paused (fraction 0..1 of time paused since the last FLUSH STATUS), e.g. 0.1.' },
    { name: 'fc-critical', type: 'string', valueName: 'RANGE', help: 'Critical range for wsrep_flow_control_paused, e.g. 0.5.' },
    { name: 'donor-ok', type: 'boolean', help: 'Donor/Desynced is OK (a node set aside for backups); default WARNING.' },
    { name: 'save-input', type: 'string', restricted: 'file', valueName: 'PATH', help: 'Also write the collected status as JSON to PATH, for --input-file.' },
  ],
  notes: [
    'States: non-Primary, wsrep_connected/wsrep_ready OFF, a node not Synced/Donor/Joining/Joined, or a node that is',
    'down or hung is CRITICAL; Donor/Desynced, Joining and Joined are WARNING; a refused login is UNKNOWN.',
    'Needs no privilege beyond a login (USAGE): SHOW GLOBAL STATUS is open to every user.',
    '',
    'Examples:',
    '  check_ha_galera -H 10.0.0.11 -w 3: -c 2: --fc-warning 0.1 --fc-critical 0.5',
    '  check_ha_galera -H g1=10.0.0.11,g2=10.0.0.12,g3=10.0.0.13 --defaults-file /etc/nagios/galera.cnf',
  ].join('\n'),
  async run(ctx) {
    const fcw = ctx.string('fc-warning');
    const fcc = ctx.string('fc-critical');
    const settings = {
      size: ctx.thresholds,
      flowControl: { warning: fcw === undefined ? undefined : parseRange(fcw), critical: fcc === undefined ? undefined : parseRange(fcc) },
      donorOk: ctx.flag('donor-ok'),
    };
    const input = await ctx.readInput();
    let capture: GaleraCapture;
    if (input !== undefined) {
      capture = parseInput(input);
    } else {
      const { credentials, targets } = connectionSettings(ctx, 'check_ha_galera');
      capture = await collect(ctx, targets, credentials);
      await saveCapture(ctx.string('save-input'), capture);
    }
    return evaluate(capture.nodes.map(parseNode), settings);
  },
};

export default descriptor;
