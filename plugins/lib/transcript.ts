/**
 * Transcripts of a command-line tool's answers, for `--save-input` and `--input-file`:
 *
 *     $ <program> <arguments>
 *     <stdout lines>
 *     [exit N]            (or [exit signal])
 *
 * one block per command the check ran. A check that asks one program several questions
 * (cl_status, gluster) replays a whole run from one file this way.
 */
import { PluginError } from '../../nagios/plugin.ts';

export interface Run {
  readonly stdout: string;
  readonly stderr: string;
  /** null when killed by a signal (or our timeout). */
  readonly exitCode: number | null;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Command line (after the program name) -> run. `required` must be among them, else the input is not a transcript of `program`. */
export function parseTranscript(text: string, program: string, required: string): Map<string, Run> {
  const map = new Map<string, Run>();
  const head = new RegExp(`^\\$ ${escape(program)} (.+)$`);
  let cmd: string | undefined;
  let buf: string[] = [];
  for (const line of text.replace(/\r\n/g, '\n').split('\n')) {
    const start = head.exec(line);
    const end = /^\[exit (\d+|signal)\]$/.exec(line);
    if (start) {
      cmd = start[1]!.trim();
      buf = [];
    } else if (end && cmd !== undefined) {
      map.set(cmd, { stdout: buf.length ? `${buf.join('\n')}\n` : '', stderr: '', exitCode: end[1] === 'signal' ? null : Number(end[1]) });
      cmd = undefined;
    } else if (cmd !== undefined) buf.push(line);
  }
  if (!map.has(required)) throw new PluginError(`not a ${program} transcript: no $ ${program} ${required} block (write one with --save-input)`);
  return map;
}

export function formatTranscript(runs: ReadonlyMap<string, Run>, program: string): string {
  let s = '';
  for (const [cmd, r] of runs) s += `$ ${program} ${cmd}\n${r.stdout.replace(/\n$/, '')}${r.stdout.trim() === '' ? '' : '\n'}[exit ${r.exitCode ?? 'signal'}]\n`;
  return s;
}
