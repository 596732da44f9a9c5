/**
 * Parses `ipvsadm -Ln`, `ipvsadm -Ln --stats` and `ipvsadm -Ln --rate` (ipvsadm 1.2x/1.3x
 * layouts: service lines `TCP  192.0.2.100:80 wlc persistent 300`, `FWM  1 rr`,
 * `UDP  [2001:db8::1]:53 rr`; real server lines `  -> 192.0.2.11:80  Route  1  0  0`).
 * Large --stats numbers are printed with K/M/G/T suffixes (1000-based) unless --exact.
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
const FWM = /^FWM\s+(\d+)(?:\s+(IPv6))?\s+(\S+)(?:\s+(.*))?$/;
const REAL = /^\s+->\s+(\S+)\s+(\S+)\s+(-?\d+)\s+(\d+)\s+(\d+)\s*$/;

export function parseIpvsList(text: string): { version?: string | undefined; services: VirtualService[] } {
  const lines = text.split('\n');
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
      services.push({ key: `${s[1]} ${s[2]}`, protocol: s[1]!, address: s[2]!, scheduler: s[3]!, flags: (s[4] ?? '').trim(), realServers: [] });
      continue;
    }
    const f = FWM.exec(line);
    if (f) {
      services.push({ key: `FWM ${f[1]}${f[2] ? ' IPv6' : ''}`, protocol: 'FWM', address: f[1]!, scheduler: f[3]!, flags: (f[4] ?? '').trim(), realServers: [] });
      continue;
    }
    const r = REAL.exec(line);
    if (r && services.length) {
      services[services.length - 1]!.realServers.push({ address: r[1]!, forward: r[2]!, weight: Number(r[3]), activeConns: Number(r[4]), inactiveConns: Number(r[5]) });
      continue;
    }
    if (!sawHeader) throw new LvsParseError(`not ipvsadm -Ln output: '${line.trim().slice(0, 80)}'`);
  }
  if (!sawHeader) throw new LvsParseError('empty ipvsadm output (no "IP Virtual Server" header)');
  return { version, services };
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
