/**
 * The impure part of check_ha_vip: `ip -j addr`, the arping duplicate probe, the TCP
 * connect to the VIP, and what keepalived or Pacemaker say this node should be.
 * Also used by check_ha_keepalived for its own duplicate probe of MASTER addresses.
 */
import { Socket } from 'node:net';
import { hostname } from 'node:os';
import { PluginError, type PluginContext } from '../../nagios/plugin.ts';
import { inSubnet, parseAddr, type Family } from '../lib/addr.ts';
import { readTextFile } from '../lib/files.ts';
import { describeFailure, runPrivileged } from '../lib/privileged.ts';
import { sudoProgramPath } from '../lib/sudo.ts';
import { parseKeepalivedState } from '../keepalived/parse.ts';
import { ArpingFlavor, detectArpingFlavor, pacemakerResourceNodes, parseArpingOutput, parseIpAddrJson, ParseError, type ArpReply, type NetInterface } from './parse.ts';

export const DEFAULT_KEEPALIVED_STATE = '/var/lib/hawatch/keepalived/state';

export async function readIpAddr(ctx: PluginContext, inputText: string | undefined): Promise<NetInterface[]> {
  let text = inputText;
  if (text === undefined) {
    const res = await runPrivileged(ctx, { file: 'ip', args: ['-j', 'addr', 'show'], debianPackage: 'iproute2', sudoersRule: '(not needed)', sudo: false, timeoutMs: 5000 });
    if (res.exitCode !== 0) throw new PluginError(describeFailure('ip -j addr show', res));
    text = res.stdout;
  }
  try {
    return parseIpAddrJson(text);
  } catch (e) {
    if (e instanceof ParseError) throw new PluginError(e.message);
    throw e;
  }
}

export interface DadRequest {
  readonly address: string;
  readonly family: Family;
  readonly iface: string;
  /** MAC addresses of this host: their replies are not "another host". */
  readonly ownMacs: ReadonlySet<string>;
  readonly count: number;
  readonly waitSeconds: number;
  readonly sudo: boolean;
  readonly arping: string;
  readonly flavor: 'auto' | ArpingFlavor;
}

export interface DadResult {
  readonly iface: string;
  readonly flavor: ArpingFlavor;
  readonly sent: number;
  /** Replies from MAC addresses that are not this host's, one per MAC. */
  readonly foreign: readonly ArpReply[];
}

/** The probe's numbers: how many requests, the interval between them (Habets) and the deadline. */
function probeTiming(count: number, waitSeconds: number): { count: string; interval: string; deadline: string } {
  return { count: String(count), interval: String(Math.max(0.1, waitSeconds / count)), deadline: String(Math.max(1, Math.ceil(waitSeconds))) };
}

/** The defaults of --dad-count and --dad-wait (check_ha_vip and check_ha_keepalived --dad). */
export const DEFAULT_DAD_COUNT = 2;
export const DEFAULT_DAD_WAIT_S = 1;

/**
 * The sudoers rule for the probe: arping as root, but only in the duplicate-detection form
 * (sender 0.0.0.0) and with exactly the count, interval and deadline the check sends (sudo
 * >= 1.9.10 regular expressions). A rule without arguments would let the nagios user send
 * any ARP packet as root (gratuitous replies that take over the VIP); a rule with [0-9]+ for
 * the numbers let it flood the segment (-c 999999999 -W 0.000001).
 */
export function arpingSudoersRule(arping: string, flavor: ArpingFlavor = ArpingFlavor.HABETS, count = DEFAULT_DAD_COUNT, waitSeconds = DEFAULT_DAD_WAIT_S): string {
  const t = probeTiming(count, waitSeconds);
  const re = (n: string): string => n.replace(/\./g, '[.]');
  const args = flavor === ArpingFlavor.IPUTILS
    ? `^-D -I [A-Za-z0-9_.-]+ -c ${re(t.count)} -w ${re(t.deadline)} [0-9.]+$`
    : `^-0 -i [A-Za-z0-9_.-]+ -c ${re(t.count)} -W ${re(t.interval)} -w ${re(t.deadline)} [0-9.]+$`;
  return `nagios ALL=(root) NOPASSWD: ${sudoProgramPath(arping)} ${args}`;
}

const flavorCache = new Map<string, ArpingFlavor>();

async function arpingFlavor(ctx: PluginContext, req: DadRequest): Promise<ArpingFlavor> {
  if (req.flavor !== 'auto') return req.flavor;
  const cached = flavorCache.get(req.arping);
  if (cached) return cached;
  // `arping -V` needs no privileges: iputils prints its version, Habets' arping its usage.
  const res = await runPrivileged(ctx, { file: req.arping, args: ['-V'], debianPackage: 'arping (or iputils-arping)', sudoersRule: arpingSudoersRule(req.arping), sudo: false, timeoutMs: 3000 });
  const flavor = detectArpingFlavor(res.stdout + res.stderr);
  if (!flavor) throw new PluginError(`cannot tell which arping '${req.arping}' is (neither iputils nor Habets' arping); give --arping-flavor iputils|habets`);
  flavorCache.set(req.arping, flavor);
  return flavor;
}

/**
 * Asks the segment who answers ARP for the address, the way duplicate address detection
 * does: requests with sender 0.0.0.0, so this host's own copy of the address does not
 * make the kernel drop them as martians, and a host that holds the address replies.
 */
export async function probeDuplicate(ctx: PluginContext, req: DadRequest): Promise<DadResult> {
  if (req.family !== 4) throw new PluginError('ARP duplicate detection is IPv4 only');
  const flavor = await arpingFlavor(ctx, req);
  const t = probeTiming(req.count, req.waitSeconds);
  const args = flavor === ArpingFlavor.IPUTILS
    ? ['-D', '-I', req.iface, '-c', t.count, '-w', t.deadline, req.address]
    : ['-0', '-i', req.iface, '-c', t.count, '-W', t.interval, '-w', t.deadline, req.address];
  const res = await runPrivileged(ctx, {
    file: req.arping,
    args,
    debianPackage: flavor === ArpingFlavor.IPUTILS ? 'iputils-arping' : 'arping',
    sudoersRule: arpingSudoersRule(req.arping, flavor, req.count, req.waitSeconds),
    sudo: req.sudo,
    timeoutMs: (Number(t.deadline) + 2) * 1000,
  });
  const probe = parseArpingOutput(flavor, res.stdout);
  // iputils: 0 = nobody answered, 1 = answered, 2 = error. Habets: 0 = answered, 1 = no answer (or an error).
  const failed = flavor === ArpingFlavor.IPUTILS ? res.exitCode !== 0 && res.exitCode !== 1 : !probe.ran;
  if (failed) throw new PluginError(`duplicate probe of ${req.address} on ${req.iface} failed: ${describeFailure(req.arping, res)}`);
  const seen = new Map<string, ArpReply>();
  for (const r of probe.replies) if (!req.ownMacs.has(r.mac) && !seen.has(r.mac)) seen.set(r.mac, r);
  return { iface: req.iface, flavor, sent: probe.sent, foreign: [...seen.values()] };
}

export function ownMacs(interfaces: readonly NetInterface[]): Set<string> {
  return new Set(interfaces.map((i) => i.mac).filter((m): m is string => m !== undefined && m !== '00:00:00:00:00:00'));
}

/** The interface to probe on: the one holding the address, else one whose subnet contains it. */
export function interfaceFor(interfaces: readonly NetInterface[], family: Family, address: string): string | undefined {
  const holder = interfaces.find((i) => i.addresses.some((a) => a.address === address));
  if (holder) return holder.name;
  const target = parseAddr(address);
  if (!target) return undefined;
  for (const i of interfaces) {
    if (i.name === 'lo') continue;
    for (const a of i.addresses) {
      const v = parseAddr(a.address);
      if (a.family === family && v && a.prefixLen < (family === 4 ? 32 : 128) && inSubnet(family, target.value, v.value, a.prefixLen)) return i.name;
    }
  }
  return undefined;
}

export interface PortResult {
  readonly port: number;
  readonly ok: boolean;
  readonly seconds?: number | undefined;
  readonly error?: string | undefined;
}

export function checkTcpPort(ctx: PluginContext, address: string, port: number, timeoutMs: number): Promise<PortResult> {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const sock = new Socket();
    let done = false;
    const finish = (r: PortResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onAbort);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ port, ok: false, error: `no answer within ${timeoutMs / 1000} s` }), timeoutMs);
    const onAbort = (): void => finish({ port, ok: false, error: 'check timed out' });
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    sock.once('connect', () => finish({ port, ok: true, seconds: Number(process.hrtime.bigint() - started) / 1e9 }));
    sock.once('error', (e: NodeJS.ErrnoException) => finish({ port, ok: false, error: e.code === 'ECONNREFUSED' ? 'connection refused' : e.code ?? e.message }));
    sock.connect({ host: address, port });
  });
}

export interface Expectation {
  readonly role: 'owner' | 'standby' | 'any';
  /** Why: "keepalived VI_1 is MASTER", "--expect owner". */
  readonly because: string;
}

/** Resolves --expect / --expect-from into owner, standby or any. */
export async function resolveExpectation(ctx: PluginContext): Promise<Expectation> {
  const from = ctx.string('expect-from');
  const plain = (ctx.string('expect') ?? 'any').toLowerCase();
  if (from === undefined) {
    if (plain !== 'owner' && plain !== 'standby' && plain !== 'any') throw new PluginError(`invalid --expect '${plain}': use owner, standby or any`);
    return { role: plain, because: plain === 'any' ? 'no expectation' : `--expect ${plain}` };
  }
  const m = /^(keepalived|pacemaker):(.+)$/.exec(from);
  if (!m) throw new PluginError(`invalid --expect-from '${from}': use keepalived:INSTANCE or pacemaker:RESOURCE`);
  const [, kind, name] = m as unknown as [string, string, string];
  if (kind === 'keepalived') {
    const path = ctx.string('keepalived-state') ?? DEFAULT_KEEPALIVED_STATE;
    const parsed = parseKeepalivedState(await readTextFile(path, 'keepalived state', { signal: ctx.signal }));
    const inst = parsed.instances.find((i) => i.name === name);
    if (!inst) throw new PluginError(`keepalived instance '${name}' is not in '${path}' (known: ${parsed.instances.map((i) => i.name).join(', ') || 'none'})`);
    return { role: inst.state === 'MASTER' ? 'owner' : 'standby', because: `keepalived ${name} is ${inst.state}` };
  }
  const xmlPath = ctx.string('crm-mon-xml');
  let xml: string;
  if (xmlPath !== undefined) {
    xml = await readTextFile(xmlPath, 'crm_mon XML', { signal: ctx.signal });
  } else {
    const res = await runPrivileged(ctx, {
      file: 'crm_mon', args: ['--output-as=xml', '--inactive'], debianPackage: 'pacemaker-cli-utils', sudoersRule: '(none: crm_mon needs the haclient group)', sudo: false, timeoutMs: 8000,
      privilegeHint: 'run as root or add the nagios user to the haclient group (usermod -a -G haclient nagios), or give --crm-mon-xml',
    });
    if (res.exitCode !== 0 && !res.stdout.includes('<pacemaker-result')) throw new PluginError(describeFailure('crm_mon', res));
    xml = res.stdout;
  }
  const { XMLParser } = await import('fast-xml-parser');
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_' }).parse(xml) as unknown;
  const r = pacemakerResourceNodes(doc, name);
  if (!r.found) throw new PluginError(`Pacemaker resource '${name}' is not in the crm_mon output`);
  const me = ctx.string('node-name') ?? hostname();
  const here = r.nodes.includes(me);
  return { role: here ? 'owner' : 'standby', because: r.nodes.length ? `Pacemaker runs ${name} on ${r.nodes.join(', ')}` : `Pacemaker runs ${name} nowhere` };
}
