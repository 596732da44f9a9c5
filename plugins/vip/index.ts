import { PluginError, type PluginDescriptor } from '../../nagios/plugin.ts';
import { parseStateName, State } from '../../nagios/states.ts';
import { ArpingFlavor } from './parse.ts';
import { arpingSudoersRule, checkTcpPort, interfaceFor, ownMacs, probeDuplicate, readIpAddr, resolveExpectation, DEFAULT_KEEPALIVED_STATE } from './collect.ts';
import { evaluateVip } from './evaluate.ts';
import { parseVipOption } from './parse.ts';

function positiveNumber(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new PluginError(`invalid --${name} '${text}': expected a positive number`);
  return n;
}

const descriptor: PluginDescriptor = {
  name: 'check_ha_vip',
  prefix: 'VIP',
  description:
    'Checks a floating IP address from one node: whether this node holds it (ip -j addr), whether that is what the ' +
    'node should be (--expect, or what keepalived or Pacemaker say), and whether another host on the segment answers ' +
    'for the same address (ARP duplicate address detection with arping; IPv6 uses the kernel\'s dadfailed flag). ' +
    'Held here and answered elsewhere is split brain (CRITICAL). Perfdata vip_owned summed over all nodes must be 1.',
  inputFile: true,
  options: [
    { name: 'vip', type: 'string', valueName: 'ADDR', help: 'The floating IP address (IPv4 or IPv6; a /prefix is ignored). Required.' },
    { name: 'interface', short: 'I', type: 'string', valueName: 'IF', help: 'Only look for the VIP on IF, and probe the segment on IF (default: the interface holding it, else the one whose subnet contains it).' },
    { name: 'expect', type: 'string', valueName: 'ROLE', default: 'any', help: 'owner: this node must hold the VIP; standby: it must not; any: either.' },
    { name: 'expect-from', type: 'string', valueName: 'SRC', help: 'keepalived:INSTANCE (owner when the instance is MASTER) or pacemaker:RESOURCE (owner when Pacemaker runs the resource on this node). Overrides --expect.' },
    { name: 'keepalived-state', type: 'string', restricted: 'file', valueName: 'PATH', help: `keepalived state for --expect-from keepalived: the state file of hawatch-keepalived-notify.sh, or a keepalived JSON/data dump (default ${DEFAULT_KEEPALIVED_STATE}).` },
    { name: 'crm-mon-xml', type: 'string', restricted: 'file', valueName: 'PATH', help: 'Read `crm_mon --output-as=xml` from PATH instead of running crm_mon (for --expect-from pacemaker).' },
    { name: 'node-name', type: 'string', valueName: 'NAME', help: "This node's name in Pacemaker (default: the host name)." },
    { name: 'no-dad', type: 'boolean', help: 'Do not probe the segment with arping.' },
    { name: 'dad-count', type: 'string', valueName: 'N', default: '2', help: 'ARP probes to send.' },
    { name: 'dad-wait', type: 'string', valueName: 'SECONDS', default: '1', help: 'How long to wait for answers.' },
    { name: 'arping', type: 'string', restricted: 'program', valueName: 'PATH', default: 'arping', help: 'The arping program (iputils-arping or Habets\' arping; told apart by its -V output).' },
    { name: 'arping-flavor', type: 'string', valueName: 'KIND', default: 'auto', help: 'iputils, habets or auto.' },
    { name: 'sudo', type: 'boolean', help: 'Run arping through `sudo -n` (see README for the sudoers rule).' },
    { name: 'port', short: 'p', type: 'string', valueName: 'PORT', help: 'Also check that the VIP accepts TCP connections on PORT.' },
    { name: 'orphan-state', type: 'string', valueName: 'STATE', default: 'CRITICAL', help: 'State when the probe shows that no host at all answers for the VIP.' },
  ],
  notes:
    'Examples:\n' +
    '  check_ha_vip --vip 192.0.2.100 --expect-from keepalived:VI_1\n' +
    '  check_ha_vip --vip 192.0.2.100 -I eth0 --expect owner --port 443\n' +
    '--input-file reads saved `ip -j addr` output. arping needs CAP_NET_RAW: run as root, or use --sudo with (sudo >= 1.9.10; ' +
    `iputils-arping: see the README):\n  ${arpingSudoersRule('arping')}`,
  async run(ctx) {
    const vipText = ctx.string('vip');
    if (vipText === undefined) throw new PluginError("missing --vip ADDR; see 'check_ha_vip --help'");
    const vip = parseVipOption(vipText);
    if (!vip) throw new PluginError(`invalid --vip '${vipText}': not an IPv4 or IPv6 address`);
    const ifFilter = ctx.string('interface');
    const flavorText = (ctx.string('arping-flavor') ?? 'auto').toLowerCase();
    if (flavorText !== 'auto' && flavorText !== ArpingFlavor.IPUTILS && flavorText !== ArpingFlavor.HABETS) throw new PluginError(`invalid --arping-flavor '${flavorText}': use iputils, habets or auto`);
    const orphanState = parseStateName(ctx.string('orphan-state') ?? 'CRITICAL');
    if (orphanState === undefined) throw new PluginError('invalid --orphan-state: use OK, WARNING, CRITICAL or UNKNOWN');
    const portText = ctx.string('port');
    const port = portText === undefined ? undefined : Number(portText);
    if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) throw new PluginError(`invalid --port '${portText}': expected 1-65535`);
    const count = Math.round(positiveNumber(ctx.string('dad-count'), 'dad-count', 2));
    const wait = positiveNumber(ctx.string('dad-wait'), 'dad-wait', 1);

    const expectation = await resolveExpectation(ctx);
    const interfaces = await readIpAddr(ctx, await ctx.readInput());
    if (ifFilter !== undefined && !interfaces.some((i) => i.name === ifFilter)) {
      throw new PluginError(`interface '${ifFilter}' does not exist here (have: ${interfaces.map((i) => i.name).join(', ')})`);
    }
    let held: { iface: (typeof interfaces)[number]; addr: (typeof interfaces)[number]['addresses'][number] } | undefined;
    for (const iface of interfaces) {
      if (ifFilter !== undefined && iface.name !== ifFilter) continue;
      const addr = iface.addresses.find((a) => a.address === vip.address);
      if (addr) { held = { iface, addr }; break; }
    }

    let dad;
    let dadSkipped: string | undefined;
    if (ctx.flag('no-dad')) {
      dadSkipped = '--no-dad';
    } else if (vip.family === 6) {
      dadSkipped = held ? "IPv6: the kernel's duplicate address detection flags are used" : 'IPv6: no ARP; the owner reports duplicates through the kernel\'s dadfailed flag';
    } else {
      const iface = ifFilter ?? interfaceFor(interfaces, vip.family, vip.address);
      if (!iface) throw new PluginError(`no interface here holds ${vip.address} or is on its subnet: give --interface for the duplicate probe, or --no-dad`);
      dad = await probeDuplicate(ctx, {
        address: vip.address, family: vip.family, iface, ownMacs: ownMacs(interfaces), count, waitSeconds: wait,
        sudo: ctx.flag('sudo'), arping: ctx.string('arping') ?? 'arping', flavor: flavorText as 'auto' | ArpingFlavor,
      });
    }
    const portResult = port === undefined ? undefined : await checkTcpPort(ctx, vip.address, port, Math.min(5000, ctx.remainingMs()));
    return evaluateVip({ vip, interfaceFilter: ifFilter, held, expectation, dad, dadSkipped, port: portResult, orphanState: orphanState ?? State.CRITICAL });
  },
};

export default descriptor;
