/**
 * `hawatch-server query --url URL --key HOST/SERVICE`: a Nagios plugin that prints the
 * current result of one object of a running hawatch server and exits with its state, so
 * Nagios or Icinga can show hawatch's cluster rules (exported with --rules query). A
 * pending, stale or unreachable object is UNKNOWN: the judgement is not known.
 */
import { plainText } from '../core/text.ts';

export interface QueryResult {
  readonly code: 0 | 1 | 2 | 3;
  readonly text: string;
}

interface StatusBody {
  status?: {
    state?: number; stateName?: string; checked?: boolean; stale?: boolean; output?: string; longOutput?: string; perfdata?: string;
    silencedBy?: { id?: string; author?: string; comment?: string; end?: number }[]; inhibitedBy?: string | null;
  };
  message?: string;
}

function unknown(message: string): QueryResult {
  return { code: 3, text: `HAWATCH UNKNOWN - ${plainText(message)}\n` };
}

export async function query(url: string, key: string, timeoutSeconds: number): Promise<QueryResult> {
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) return unknown(`-t must be a number of seconds above 0`);
  const base = url.replace(/\/+$/, '');
  const path = key.split('/').map(encodeURIComponent).join('/');
  let res: Response;
  try {
    res = await fetch(`${base}/api/v1/objects/${path}`, { signal: AbortSignal.timeout(timeoutSeconds * 1000) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
    return unknown(`cannot reach hawatch-server at ${base} (${cause}): is it running, is the URL right`);
  }
  let body: StatusBody;
  try {
    body = (await res.json()) as StatusBody;
  } catch {
    return unknown(`hawatch-server at ${base} answered HTTP ${res.status} without JSON`);
  }
  if (res.status === 404) return unknown(`hawatch-server at ${base} has no object ${key}: export again after inventory changes`);
  const s = body.status;
  if (!res.ok || !s || typeof s.state !== 'number') return unknown(`hawatch-server at ${base} answered HTTP ${res.status}: ${body.message ?? 'no status'}`);
  if (!s.checked) return unknown(`${key} is pending: hawatch has not judged it yet`);
  if (s.stale) return unknown(`${key}: the last result is stale - ${s.output ?? ''}`);
  const code = s.state >= 0 && s.state <= 3 ? (s.state as 0 | 1 | 2 | 3) : 3;
  // The server's texts are already Nagios-safe; long output and perfdata as a plugin prints them.
  const perf = s.perfdata ? ` | ${s.perfdata}` : '';
  // Nagios has no silences: say in the long output that hawatch holds this object's alerts.
  const held = [
    ...(s.silencedBy ?? []).map((x) => plainText(`Silenced in hawatch by ${x.id ?? '?'} ${x.author ?? '?'} until ${new Date(x.end ?? 0).toISOString()}: ${x.comment ?? ''}`)),
    ...(s.inhibitedBy ? [plainText(`Alerts held in hawatch by rule ${s.inhibitedBy}`)] : []),
  ];
  const longText = [s.longOutput ?? '', ...held].filter(Boolean).join('\n');
  const long = longText ? `\n${longText}` : '';
  return { code, text: `${s.output ?? ''}${perf}${long}\n` };
}
