/**
 * Pure: what `cl_status` printed (and its exit status) in, typed facts out; haresources in,
 * resource groups out. Also the transcript format of --input-file / --save-input: each run as
 * `$ cl_status ARGS`, its stdout, then `[exit N]`.
 *
 * cl_status (heartbeat/tools/cl_status.c, Heartbeat 3.0.6) signs on to heartbeat's API first.
 * hbstatus prints `Heartbeat is running on this machine.` (0), `Heartbeat is stopped on this
 * machine.` (1), or, when heartbeat has a deadtime but refuses the API connection,
 * `Heartbeat is apparently running on this machine, but refuses my connection` with exit 0:
 * that is not OK. Every command arms alarm(5); when heartbeat does not answer the SIGALRM
 * handler ends cl_status with a non-zero exit and little or no output: not OK either.
 */
import { PluginError } from '../../nagios/plugin.ts';
import { formatTranscript as formatTranscriptOf, parseTranscript as parseTranscriptOf, type Run } from '../lib/transcript.ts';

export type { Run };

export type HbState = 'running' | 'stopped' | 'refused' | 'no-answer' | 'unknown';

export function parseHbstatus(r: Run): { state: HbState; text: string } {
  const out = r.stdout.trim();
  if (/refuses my connection/.test(out)) return { state: 'refused', text: 'heartbeat runs but refuses the API connection of cl_status (API clients exhausted, or heartbeat is hung)' };
  if (/^Heartbeat is running on this machine/m.test(out) && r.exitCode === 0) return { state: 'running', text: 'heartbeat is running' };
  if (/^Heartbeat is stopped on this machine/m.test(out)) return { state: 'stopped', text: 'heartbeat is stopped on this node' };
  if (r.exitCode !== 0) return { state: 'no-answer', text: `cl_status hbstatus got no answer from heartbeat (exit ${r.exitCode ?? 'by signal'}${firstLine(r.stderr) ? `, ${firstLine(r.stderr)}` : ''})` };
  return { state: 'unknown', text: `cl_status hbstatus printed ${firstLine(out) || 'nothing'}` };
}

function firstLine(s: string): string {
  return (s.trim().split('\n').find((l) => l.trim() !== '') ?? '').trim().replace(/^\w{3} +\d+ [\d:]+ \S+ cl_status: \[\d+\]: /, '').replace(/["'`<>|;&$~]/g, '');
}

/** A list answer (listnodes, listhblinks): one name per line, tab-indented for links. */
export function parseList(r: Run, what: string): string[] {
  if (r.exitCode !== 0) throw new PluginError(`cl_status ${what} failed (exit ${r.exitCode ?? 'by signal'}): ${firstLine(r.stderr) || firstLine(r.stdout) || 'no output'}`, 2);
  return r.stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '');
}

/** nodestatus: active, up, ping (alive); dead; anything else as printed. */
export function parseWord(r: Run): string {
  return r.stdout.trim().split('\n')[0]?.trim() ?? '';
}

export const RSC_STATES = ['all', 'local', 'foreign', 'none', 'transition'] as const;
export type RscState = (typeof RSC_STATES)[number];

export function parseRscstatus(r: Run): RscState | undefined {
  const w = parseWord(r);
  return (RSC_STATES as readonly string[]).includes(w) ? (w as RscState) : undefined;
}

export interface ResourceGroup {
  /** The node that should hold the group (first word of its haresources line). */
  readonly node: string;
  readonly resources: readonly string[];
}

/** /etc/ha.d/haresources: `node res1 res2::arg ...`, `#` comments, `\` continues a line. */
export function parseHaresources(text: string): ResourceGroup[] {
  const joined = text.replace(/\\\r?\n/g, ' ');
  const out: ResourceGroup[] = [];
  for (const raw of joined.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') continue;
    const [node, ...resources] = line.split(/\s+/);
    out.push({ node: node!, resources });
  }
  return out;
}

/** The transcript of --input-file (plugins/lib/transcript.ts). */
export function parseTranscript(text: string): Map<string, Run> {
  return parseTranscriptOf(text, 'cl_status', 'hbstatus');
}

export function formatTranscript(runs: ReadonlyMap<string, Run>): string {
  return formatTranscriptOf(runs, 'cl_status');
}
