/** /proc/meminfo swap figures and /proc/swaps areas. Pure. */
import { PluginError } from '../../nagios/plugin.ts';
import { parseMeminfo } from '../lib/host.ts';
import type { SwapSpace } from './evaluate.ts';

export function swapFromMeminfo(text: string): SwapSpace {
  const m = parseMeminfo(text);
  const total = m.get('SwapTotal');
  const free = m.get('SwapFree');
  if (total === undefined || free === undefined) throw new PluginError('cannot read swap figures: no SwapTotal or SwapFree line in /proc/meminfo (give /proc/meminfo content to --input-file)');
  return { name: 'swap', totalBytes: total, freeBytes: free + (m.get('SwapCached') ?? 0) };
}

/** `Filename Type Size Used Priority` with sizes in KiB. */
export function parseProcSwaps(text: string): SwapSpace[] {
  const out: SwapSpace[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || !/^\d+$/.test(f[2]!) || !/^\d+$/.test(f[3]!)) continue;
    // Spaces in a swap file name are written as \040.
    out.push({ name: f[0]!.replace(/\\040/g, ' '), totalBytes: Number(f[2]) * 1024, freeBytes: (Number(f[2]) - Number(f[3])) * 1024 });
  }
  return out;
}
