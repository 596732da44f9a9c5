import { InputError, readBoundedBytes } from '../../nagios/input.ts';
import { PluginError, type PluginDescriptor } from '../../nagios/plugin.ts';
import { evaluateUsers } from './evaluate.ts';
import { loggedIn, parseUtmp, parseUtmpdump } from './parse.ts';

const UTMP = '/var/run/utmp';

function count(text: string | undefined, option: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text.trim())) throw new PluginError(`invalid ${option} ${text}: expected a whole number of users`);
  return Number(text.trim());
}

const descriptor: PluginDescriptor = {
  name: 'check_ha_users',
  prefix: 'USERS',
  description:
    "Counts the users logged in, from the utmp records (USER_PROCESS entries, as monitoring-plugins' check_users and who count them), " +
    'read and decoded directly: no who process is started.',
  inputFile: true,
  options: [
    { name: 'warning', short: 'w', type: 'string', valueName: 'INTEGER', help: 'WARNING when more than INTEGER users are logged in.' },
    { name: 'critical', short: 'c', type: 'string', valueName: 'INTEGER', help: 'CRITICAL when more than INTEGER users are logged in.' },
    { name: 'utmp-file', type: 'string', restricted: 'file', valueName: 'PATH', default: UTMP, help: 'The utmp file.' },
  ],
  notes: 'Privileges: none (utmp is world-readable). A host without a utmp file (no login recorded since boot, or systemd without utmp support) has 0 users, as for check_users.',
  async run(ctx) {
    const w = count(ctx.string('warning'), '-w');
    const c = count(ctx.string('critical'), '-c');
    // --input-file takes utmpdump's text (the binary file is given with --utmp-file).
    const input = await ctx.readInput();
    if (input !== undefined) return evaluateUsers({ users: loggedIn(parseUtmpdump(input)), warning: w, critical: c });
    const path = ctx.string('utmp-file') ?? UTMP;
    let bytes: Buffer;
    let note: string | undefined;
    try {
      bytes = (await readBoundedBytes(path, { signal: ctx.signal })).bytes;
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      // glibc's getutxent finds no record in a missing file: check_users says 0 users.
      if (e.kind !== 'not-found') throw new PluginError(`cannot read utmp file ${path}: ${e.reason}`);
      bytes = Buffer.alloc(0);
      note = `${path} does not exist: no login is recorded`;
    }
    return evaluateUsers({ users: loggedIn(parseUtmp(bytes)), warning: w, critical: c, note });
  },
};

export default descriptor;
