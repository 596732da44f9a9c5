import { PluginError, type PluginContext, type PluginDescriptor } from '../../nagios/plugin.ts';
import { readTextFile } from '../lib/files.ts';
import { describeFailure, runPrivileged } from '../lib/privileged.ts';
import { evaluateLvs } from './evaluate.ts';
import { LvsParseError, parseIpvsCounters, parseIpvsList } from './parse.ts';

const SUDOERS = 'nagios ALL=(root) NOPASSWD: /usr/sbin/ipvsadm -Ln, /usr/sbin/ipvsadm -Ln --stats, /usr/sbin/ipvsadm -Ln --rate';

async function ipvsadm(ctx: PluginContext, extra: string[]): Promise<string> {
  const res = await runPrivileged(ctx, { file: ctx.string('ipvsadm') ?? 'ipvsadm', args: ['-Ln', ...extra], debianPackage: 'ipvsadm', sudoersRule: SUDOERS, sudo: ctx.flag('sudo'), timeoutMs: 5000 });
  if (res.exitCode !== 0) {
    if (/Protocol not available|built in the kernel/i.test(res.stderr)) {
      throw new PluginError("this kernel has no IPVS: load it with 'modprobe ip_vs' (kernel option CONFIG_IP_VS); nothing is load-balanced here", 2);
    }
    throw new PluginError(describeFailure(`ipvsadm -Ln ${extra.join(' ')}`.trim(), res));
  }
  return res.stdout;
}

const descriptor: PluginDescriptor = {
  name: 'check_ha_lvs',
  prefix: 'LVS',
  description:
    'Checks Linux Virtual Server (IPVS) virtual services from `ipvsadm -Ln`: for each, how many real servers can take ' +
    'traffic (weight > 0), with active and inactive connections; optionally counters from --stats and --rate.',
  inputFile: true,
  thresholds: { subject: 'usable real servers (weight > 0) per virtual service', critical: '1:' },
  options: [
    { name: 'service', short: 's', type: 'string', multiple: true, valueName: 'SVC', help: "Only these services, e.g. 'TCP 192.0.2.100:80', 192.0.2.100:80 or 'FWM 1' (repeatable); a missing one is CRITICAL." },
    { name: 'stats', type: 'boolean', help: 'Add counters from `ipvsadm -Ln --stats` to the perfdata.' },
    { name: 'rate', type: 'boolean', help: 'Add rates from `ipvsadm -Ln --rate` to the perfdata.' },
    { name: 'stats-file', type: 'string', restricted: 'file', valueName: 'PATH', help: 'Read saved --stats output.' },
    { name: 'rate-file', type: 'string', restricted: 'file', valueName: 'PATH', help: 'Read saved --rate output.' },
    { name: 'ipvsadm', type: 'string', restricted: 'program', valueName: 'PATH', help: 'The ipvsadm program.' },
    { name: 'sudo', type: 'boolean', help: 'Run ipvsadm through `sudo -n`.' },
  ],
  notes: `Without -w, a service with some real servers at weight 0 is WARNING. Default -c 1: (no usable real server is CRITICAL).\nPrivileges: root, or --sudo with:\n  ${SUDOERS}`,
  async run(ctx) {
    const input = await ctx.readInput();
    const statsFile = ctx.string('stats-file');
    const rateFile = ctx.string('rate-file');
    const offline = input !== undefined;
    try {
      const list = parseIpvsList(offline ? input : await ipvsadm(ctx, []));
      const statsText = statsFile ? await readTextFile(statsFile) : ctx.flag('stats') && !offline ? await ipvsadm(ctx, ['--stats']) : undefined;
      const rateText = rateFile ? await readTextFile(rateFile) : ctx.flag('rate') && !offline ? await ipvsadm(ctx, ['--rate']) : undefined;
      return evaluateLvs({
        services: list.services,
        wanted: ctx.strings('service'),
        thresholds: ctx.thresholds,
        warnOnQuiesced: ctx.string('warning') === undefined,
        stats: statsText === undefined ? undefined : parseIpvsCounters(statsText),
        rate: rateText === undefined ? undefined : parseIpvsCounters(rateText),
        note: list.source === 'proc' ? 'read from the kernel table /proc/net/ip_vs: hex addresses, ports and marks decoded' : undefined,
      });
    } catch (e) {
      if (e instanceof LvsParseError) throw new PluginError(e.message);
      throw e;
    }
  },
};

export default descriptor;
