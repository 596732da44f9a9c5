/**
 * Parses plugin output the way Nagios Core 4 does: the first line is `TEXT|PERFDATA`;
 * lines 2..n are long output until the first line containing `|`, whose right part and all
 * following lines are more perfdata. Only stdout counts.
 */
import { parsePerfdata, type ParsedPerfdata } from './perfdata.ts';
import { toStateCode, type StateCode } from './states.ts';

export interface PluginOutput {
  /** The status line text without perfdata (Nagios' $SERVICEOUTPUT$). */
  readonly output: string;
  /** Lines 2..n without perfdata (Nagios' $LONGSERVICEOUTPUT$), joined with `\n`. */
  readonly longOutput: string;
  /** All perfdata text (Nagios' $SERVICEPERFDATA$), space joined. */
  readonly perfdataText: string;
  readonly perfdata: readonly ParsedPerfdata[];
  readonly perfdataErrors: readonly string[];
}

export function parsePluginOutput(stdout: string): PluginOutput {
  const text = stdout.replace(/\r\n/g, '\n').replace(/\n+$/, '');
  const lines = text === '' ? [] : text.split('\n');
  const [firstLine = '', ...rest] = lines;
  const bar = firstLine.indexOf('|');
  const output = (bar === -1 ? firstLine : firstLine.slice(0, bar)).trim();
  const perfParts: string[] = [];
  if (bar !== -1) perfParts.push(firstLine.slice(bar + 1).trim());
  const longLines: string[] = [];
  let inPerf = false;
  for (const line of rest) {
    if (inPerf) {
      perfParts.push(line.trim());
      continue;
    }
    const b = line.indexOf('|');
    if (b === -1) {
      longLines.push(line);
    } else {
      if (b > 0) longLines.push(line.slice(0, b));
      perfParts.push(line.slice(b + 1).trim());
      inPerf = true;
    }
  }
  const perfdataText = perfParts.filter((p) => p !== '').join(' ');
  const { items, errors } = parsePerfdata(perfdataText);
  return { output, longOutput: longLines.join('\n'), perfdataText, perfdata: items, perfdataErrors: errors };
}

export interface PluginRun extends PluginOutput {
  readonly state: StateCode;
}

/** Combines an exit status with parsed stdout; empty output is named as Nagios Core names it. */
export function interpretPluginRun(exitCode: number | null, stdout: string): PluginRun {
  const parsed = parsePluginOutput(stdout);
  const state = toStateCode(exitCode);
  if (parsed.output === '' && parsed.longOutput === '') {
    return { ...parsed, state, output: '(No output on stdout)' };
  }
  return { ...parsed, state };
}
