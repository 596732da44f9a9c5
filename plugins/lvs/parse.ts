/**
 * Parses `ipvsadm -Ln`, `ipvsadm -Ln --stats` and `ipvsadm -Ln --rate` (ipvsadm 1.2x/1.3x
 * layouts: service lines `TCP  192.0.2.100:80 wlc persistent 300`, `FWM  1 rr`,
 * `UDP  [2001:db8::1]:53 rr`; real server lines `  -> 192.0.2.11:80  Route  1  0  0`).
 * Large --stats numbers are printed with K/M/G/T suffixes (1000-based) unless --exact.
 * Also the kernel's own /proc/net/ip_vs, which has the same layout but prints addresses,
 * ports and firewall marks in hex (`TCP  C0000264:0050 wlc`, `FWM  0000001A rr`,
 * `persistent 300 FFFFFFFF`, IPv6 in full: `[2001:0db8:0000:...:0100]:0050`): it is
 * decoded to what ipvsadm -Ln prints, so a service reads the same from either source.
 */

export interface RealServer {
  readonly address: string;
  readonly forward: string;
  readonly weight: number;
  readonly activeConns: number;
  readonly inactiveConns: number;
}

export interface VirtualService {
  /** `TCP 192.0.2.100:80`, `FWM 1`: how the service is named in output and --service. */
  readonly key: string;
  readonly protocol: string;
  readonly address: string;
  readonly scheduler: string;
  readonly flags: string;
  readonly realServers: readonly RealServer[];
}

export class LvsParseError extends Error {
  override name = 'LvsParseError';
}

const SERVICE = /^(TCP|UDP|SCTP)\s+(\S+)\s+(\S+)(?:\s+(.*))?$/;
/** /proc/net/ip_vs: `%08X:%04X` (IPv4) or `[%pI6]:%04X` (IPv6, 8 groups of 4 hex digits). */
const KERNEL_V4 = /^([0-9A-F]{8}):([0-9A-F]{4})$/;
const KERNEL_V6 = /^\[((?:[0-9a-f]{4}:){7}[0-9a-f]{4})\]:([0-9A-F]{4})$/;
/** The kernel prints its column header unpadded; ipvsadm pads RemoteAddress:Port to 28 columns. */
const KERNEL_HEADER = /^\s+-> RemoteAddress:Port Forward Weight/;

function hexV4(hex: string): string {
  const n = parseInt(hex, 16);
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** `C0000264:0050` -> `192.0.2.100:80`; `[2001:0db8:...:0100]:0050` -> `[2001:db8::100]:80`. */
function kernelAddress(text: string): string | undefined {
  const v4 = KERNEL_V4.exec(text);
  if (v4) return `${hexV4(v4[1]!)}:${parseInt(v4[2]!, 16)}`;
  const v6 = KERNEL_V6.exec(text);
  // The URL parser writes IPv6 hosts in the compressed form ipvsadm prints (inet_ntop).
  if (v6) return `${new URL(`http://[${v6[1]}]/`).hostname}:${parseInt(v6[2]!, 16)}`;
  return undefined;
}

/** Kernel service flags: `persistent 300 FFFFFFFF` -> `persistent 300` (ipvsadm prints a mask only when not /32). */
function kernelFlags(flags: string): string {
  return flags.replace(/\bpersistent (\d+) ([0-9A-F]{8})\b/, (_, t: string, mask: string) => `persistent ${t}${mask === 'FFFFFFFF' ? '' : ` mask ${hexV4(mask)}`}`).replace(/\s+/g, ' ').trim();
}
const FWM = /^FWM\s+([0-9A-F]+)(?:\s+(IPv6))?\s+(\S+)(?:\s+(.*))?$/;
const REAL = /^\s+->\s+(\S+)\s+(\S+)\s+(-?\d+)\s+(\d+)\s+(\d+)\s*$/;

export function parseIpvsList(text: string): { version?: string | undefined; services: VirtualService[]; source: 'ipvsadm' | 'proc' } {
  const lines = text.split('\n');
  // Decided once per input, by the unpadded header or, without it, by the first service address.
  const firstService = lines.map((l) => SERVICE.exec(l)).find((m) => m !== null);
  const kernel = lines.some((l) => KERNEL_HEADER.test(l)) || (firstService ? kernelAddress(firstService[2]!) !== undefined : lines.some((l) => /^FWM\s+[0-9A-F]{8}\s/.test(l)));
  const addr = (a: string): string => {
    if (!kernel) return a;
    const decoded = kernelAddress(a);
    if (decoded === undefined) throw new LvsParseError(`/proc/net/ip_vs address ${a.slice(0, 60)} is not in the kernel hex form HHHHHHHH:PPPP: give the file as the kernel wrote it`);
    return decoded;
  };
  const services: { key: string; protocol: string; address: string; scheduler: string; flags: string; realServers: RealServer[] }[] = [];
  let version: string | undefined;
  let sawHeader = false;
  for (const line of lines) {
    if (line.trim() === '') continue;
    const v = /^IP Virtual Server version (\S+)/.exec(line);
    if (v) { version = v[1]; sawHeader = true; continue; }
    if (/^Prot LocalAddress:Port/.test(line) || /^\s+-> RemoteAddress:Port/.test(line)) { sawHeader = true; continue; }
    const s = SERVICE.exec(line);
    if (s) {
      const address = addr(s[2]!);
      const flags = kernel ? kernelFlags(s[4] ?? '') : (s[4] ?? '').trim();
      services.push({ key: `${s[1]} ${address}`, protocol: s[1]!, address, scheduler: s[3]!, flags, realServers: [] });
      continue;
    }
    const f = FWM.exec(line);
    if (f) {
      // The kernel prints the mark as %08X; ipvsadm in decimal.
      const mark = kernel ? String(parseInt(f[1]!, 16)) : f[1]!;
      if (!/^\d+$/.test(mark)) throw new LvsParseError(`firewall mark ${f[1]} is not a number: give ipvsadm -Ln output as ipvsadm printed it`);
      const flags = kernel ? kernelFlags(f[4] ?? '') : (f[4] ?? '').trim();
      services.push({ key: `FWM ${mark}${f[2] ? ' IPv6' : ''}`, protocol: 'FWM', address: mark, scheduler: f[3]!, flags, realServers: [] });
      continue;
    }
    const r = REAL.exec(line);
    if (r && services.length) {
      services[services.length - 1]!.realServers.push({ address: addr(r[1]!), forward: r[2]!, weight: Number(r[3]), activeConns: Number(r[4]), inactiveConns: Number(r[5]) });
      continue;
    }
    if (!sawHeader) throw new LvsParseError(`not ipvsadm -Ln output: '${line.trim().slice(0, 80)}'`);
  }
  if (!sawHeader) throw new LvsParseError('empty ipvsadm output (no "IP Virtual Server" header)');
  return { version, services, source: kernel ? 'proc' : 'ipvsadm' };
}

/** `123`, `12K`, `3M` as printed by print_largenum (1000-based). */
export function parseLargeNum(s: string): number {
  const m = /^(\d+)([KMGT]?)$/.exec(s);
  if (!m) return NaN;
  const mult = { '': 1, K: 1e3, M: 1e6, G: 1e9, T: 1e12 }[m[2] as '' | 'K' | 'M' | 'G' | 'T'];
  return Number(m[1]) * mult;
}

export interface ServiceCounters {
  readonly key: string;
  readonly values: readonly number[];
  readonly realServers: readonly { address: string; values: readonly number[] }[];
}

/** `--stats` (Conns InPkts OutPkts InBytes OutBytes) or `--rate` (CPS InPPS OutPPS InBPS OutBPS). */
export function parseIpvsCounters(text: string): { columns: string[]; services: ServiceCounters[] } {
  const lines = text.split('\n');
  const header = lines.find((l) => /^Prot LocalAddress:Port\s+\S/.test(l) && !/Scheduler/.test(l));
  if (!header) throw new LvsParseError('not ipvsadm --stats/--rate output (no column header)');
  const columns = header.replace(/^Prot LocalAddress:Port\s+/, '').trim().split(/\s+/);
  const services: { key: string; values: number[]; realServers: { address: string; values: number[] }[] }[] = [];
  for (const line of lines) {
    const svc = /^(TCP|UDP|SCTP)\s+(\S+)\s+(.*)$/.exec(line) ?? /^(FWM)\s+(\d+(?:\s+IPv6)?)\s+(.*)$/.exec(line);
    if (svc) {
      services.push({ key: `${svc[1]} ${svc[2]}`, values: svc[3]!.trim().split(/\s+/).map(parseLargeNum), realServers: [] });
      continue;
    }
    const rs = /^\s+->\s+(\S+)\s+(.*)$/.exec(line);
    if (rs && services.length && !/RemoteAddress/.test(line)) services[services.length - 1]!.realServers.push({ address: rs[1]!, values: rs[2]!.trim().split(/\s+/).map(parseLargeNum) });
  }
  return { columns, services };
}
