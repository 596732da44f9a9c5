import { PluginError, type PluginContext, type PluginDescriptor } from '../../nagios/plugin.ts';
import { readTextFile } from '../lib/files.ts';
import { describeFailure, runPrivileged } from '../lib/privileged.ts';
import { evaluateCorosync } from './evaluate.ts';
import { CorosyncParseError, parseLinksStatus, parseQuorumStatus } from './parse.ts';

const SUDOERS = 'nagios ALL=(root) NOPASSWD: /usr/sbin/corosync-quorumtool -s, /usr/sbin/corosync-cfgtool -s';

/** Runs a corosync tool; "Cannot initialize ..." means corosync is down, or we may not talk to it. */
async function tool(ctx: PluginContext, file: string, args: string[], okCodes: number[]): Promise<string> {
  const res = await runPrivileged(ctx, { file, args, debianPackage: 'corosync', sudoersRule: SUDOERS, sudo: ctx.flag('sudo'), timeoutMs: 5000 });
  const text = res.stdout + res.stderr;
  if (/Cannot initialize|Could not initialize|CS_ERR_LIBRARY|error 2\b/i.test(text) && !/Quorate:|LINK ID|RING ID/.test(res.stdout)) {
    if (process.getuid?.() === 0 && !ctx.flag('sudo')) throw new PluginError(`corosync is not running (${file}: ${text.trim().split('\n')[0]})`, 2);
    throw new PluginError(`${file} cannot reach corosync (${text.trim().split('\n')[0]}): corosync is down, or this user may not use its IPC: run as root, add 'uidgid { uid: nagios }' in /etc/corosync/uidgid.d/, or pass --sudo with '${SUDOERS}'`);
  }
  if (!okCodes.includes(res.exitCode ?? -1) && !/Quorate:|LINK ID|RING ID/.test(res.stdout)) throw new PluginError(describeFailure(`${file} ${args.join(' ')}`, res));
  return res.stdout;
}

const descriptor: PluginDescriptor = {
  name: 'check_ha_corosync',
  prefix: 'COROSYNC',
  description:
    'Checks Corosync: quorum (corosync-quorumtool -s: quorate, expected and total votes, activity blocked) and the state of ' +
    'each ring or knet link to every node (corosync-cfgtool -s), for Corosync 2.x and 3.x. Not quorate and a node ' +
    'unreachable on every link are CRITICAL; missing votes, a lost quorum device and a link down are WARNING.',
  inputFile: true,
  thresholds: { subject: 'the number of cluster members' },
  options: [
    { name: 'quorum-file', type: 'string', restricted: 'file', valueName: 'PATH', help: 'Read saved `corosync-quorumtool -s` output instead of running it (--input-file is the same).' },
    { name: 'links-file', type: 'string', restricted: 'file', valueName: 'PATH', help: 'Read saved `corosync-cfgtool -s`, `-s -b` or `-n` output instead of running it.' },
    { name: 'no-links', type: 'boolean', help: 'Do not check links (corosync-cfgtool).' },
    { name: 'no-quorum', type: 'boolean', help: 'Do not check quorum (corosync-quorumtool).' },
    { name: 'sudo', type: 'boolean', help: 'Run the corosync tools through `sudo -n`.' },
  ],
  notes: `Examples:\n  check_ha_corosync\n  check_ha_corosync -w 3: -c 2:        (members)\nPrivileges: root, a uidgid entry for the nagios user, or --sudo with:\n  ${SUDOERS}`,
  async run(ctx) {
    const input = await ctx.readInput();
    const qFile = ctx.string('quorum-file');
    const lFile = ctx.string('links-file');
    const offline = input !== undefined || qFile !== undefined || lFile !== undefined;
    let qText: string | undefined;
    let lText: string | undefined;
    if (offline) {
      qText = input ?? (qFile ? await readTextFile(qFile, 'quorum file') : undefined);
      lText = lFile ? await readTextFile(lFile, 'links file') : undefined;
    } else {
      if (!ctx.flag('no-quorum')) qText = await tool(ctx, 'corosync-quorumtool', ['-s'], [0, 2]);
      if (!ctx.flag('no-links')) lText = await tool(ctx, 'corosync-cfgtool', ['-s'], [0, 1]);
    }
    try {
      return evaluateCorosync(qText === undefined ? undefined : parseQuorumStatus(qText), lText === undefined ? undefined : parseLinksStatus(lText), ctx.thresholds);
    } catch (e) {
      if (e instanceof CorosyncParseError) throw new PluginError(e.message);
      throw e;
    }
  },
};

export default descriptor;
