/** Reads the service entries of a Nagios 4 status.dat. */
import { readFileSync } from 'node:fs';

export interface NagiosServiceStatus {
  readonly key: string;
  readonly lastCheck: number;
  /** Seconds, as Nagios measured: start of the check minus its scheduled time. */
  readonly latency: number;
  readonly state: number;
  readonly checked: boolean;
  readonly output: string;
}

export function readServiceStatus(file: string): NagiosServiceStatus[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: NagiosServiceStatus[] = [];
  let i = 0;
  for (;;) {
    const start = text.indexOf('servicestatus {', i);
    if (start === -1) break;
    const end = text.indexOf('\n\t}', start);
    if (end === -1) break;
    const fields = new Map<string, string>();
    for (const line of text.slice(start + 15, end).split('\n')) {
      const t = line.trim();
      const eq = t.indexOf('=');
      if (eq > 0) fields.set(t.slice(0, eq), t.slice(eq + 1));
    }
    out.push({
      key: `${fields.get('host_name')}/${fields.get('service_description')}`,
      lastCheck: Number(fields.get('last_check') ?? 0),
      latency: Number(fields.get('check_latency') ?? 0),
      state: Number(fields.get('current_state') ?? 3),
      checked: fields.get('has_been_checked') === '1',
      output: fields.get('plugin_output') ?? '',
    });
    i = end;
  }
  return out;
}
