/**
 * Tiny Nagios plugins built into the server binary, for the embedded demo inventory: they
 * run as real child processes through the local executor, like any plugin would.
 */
import { statfs, readFile } from 'node:fs/promises';
import { loadavg, cpus } from 'node:os';
import { checkThresholds, parseThresholds } from '../../nagios/range.ts';
import { render, renderMessage, leaf, type Rendered } from '../../nagios/result.ts';
import { parseStateName, State } from '../../nagios/states.ts';

function opt(args: string[], name: string, def?: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
}

export async function demoCheck(args: string[]): Promise<Rendered> {
  const [name, ...rest] = args;
  const w = opt(rest, '-w');
  const c = opt(rest, '-c');
  switch (name) {
    case 'load': {
      const [l1 = 0, l5 = 0, l15 = 0] = loadavg();
      const t = parseThresholds(w, c);
      const st = checkThresholds(l1, t);
      return render(leaf('', st, `load average ${l1.toFixed(2)}, ${l5.toFixed(2)}, ${l15.toFixed(2)} on ${cpus().length} CPUs`, [
        { label: 'load1', value: Math.round(l1 * 100) / 100, warning: w, critical: c, min: 0 },
        { label: 'load5', value: Math.round(l5 * 100) / 100, min: 0 },
        { label: 'load15', value: Math.round(l15 * 100) / 100, min: 0 },
      ]), { prefix: 'LOAD' });
    }
    case 'disk': {
      const path = opt(rest, '--path', '/') as string;
      const s = await statfs(path);
      const total = s.blocks * s.bsize;
      const used = total - s.bfree * s.bsize;
      const pct = total ? (used * 100) / total : 0;
      const st = checkThresholds(pct, parseThresholds(w, c));
      return render(leaf('', st, `${path} ${pct.toFixed(1)}% used (${(used / 2 ** 30).toFixed(1)} of ${(total / 2 ** 30).toFixed(1)} GiB)`, [
        { label: `${path} used`, value: Math.round(pct * 10) / 10, uom: '%', warning: w, critical: c, min: 0, max: 100 },
      ]), { prefix: 'DISK' });
    }
    case 'memory': {
      const info = await readFile('/proc/meminfo', 'utf8');
      const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(info)?.[1] ?? 0);
      const total = kb('MemTotal');
      const used = total - kb('MemAvailable');
      const pct = total ? (used * 100) / total : 0;
      const st = checkThresholds(pct, parseThresholds(w, c));
      return render(leaf('', st, `${pct.toFixed(1)}% of ${(total / 2 ** 20).toFixed(1)} GiB in use`, [
        { label: 'memory_used', value: Math.round(pct * 10) / 10, uom: '%', warning: w, critical: c, min: 0, max: 100 },
      ]), { prefix: 'MEMORY' });
    }
    case 'dummy': {
      const st = parseStateName(rest[0] ?? '0') ?? State.UNKNOWN;
      return renderMessage('DUMMY', st, rest[1] ?? 'dummy result');
    }
    default:
      return renderMessage('DEMO', State.UNKNOWN, `unknown demo check '${name ?? ''}': use load, disk, memory or dummy`);
  }
}
