/**
 * The result of a check: a tree of subchecks whose worst state wins, rendered in the
 * Nagios plugin output format (status line, long output, perfdata).
 */
import { formatPerfdataList, type Perfdata } from './perfdata.ts';
import { severity, State, stateName, worst, type StateCode } from './states.ts';

export interface CheckResult {
  /** The state of this node itself; the effective state also counts the children. */
  readonly state: StateCode;
  /** What is being judged: "r0/0 peer nodeb", "node web1". Empty for the root. */
  readonly name?: string | undefined;
  /** One line: what was found. */
  readonly summary: string;
  readonly perfdata?: readonly Perfdata[] | undefined;
  readonly children?: readonly CheckResult[] | undefined;
  /**
   * The node describes a part its parent already judged (a DOWN server under its backend):
   * its long-output line is tagged with its own state, so a DOWN server never reads [OK],
   * but it counts neither towards its parent's state nor as a problem on the status line.
   */
  readonly informational?: boolean | undefined;
}

export function leaf(name: string, state: StateCode, summary: string, perfdata?: readonly Perfdata[]): CheckResult {
  return { name, state, summary, perfdata };
}

/** A group whose own state is OK; its effective state is the worst of its children. */
export function group(name: string, summary: string, children: readonly CheckResult[], perfdata?: readonly Perfdata[]): CheckResult {
  return { name, state: State.OK, summary, children, perfdata };
}

/** A part already judged by its parent: tagged with its own state, counted nowhere (see `informational`). */
export function detail(name: string, state: StateCode, summary: string): CheckResult {
  return { name, state, summary, informational: true };
}

export function effectiveState(r: CheckResult): StateCode {
  let s = r.state;
  for (const c of r.children ?? []) if (!c.informational) s = worst(s, effectiveState(c));
  return s;
}

function collectPerfdata(r: CheckResult, out: Perfdata[]): Perfdata[] {
  if (r.perfdata) out.push(...r.perfdata);
  for (const c of r.children ?? []) collectPerfdata(c, out);
  return out;
}

interface Problem {
  readonly state: StateCode;
  readonly text: string;
}

/** Non-OK nodes that explain themselves: a node whose own state is non-OK, deepest first. */
function collectProblems(r: CheckResult, path: readonly string[], out: Problem[]): void {
  if (r.informational) return;
  const here = r.name ? [...path, r.name] : path;
  if (r.state !== State.OK) {
    const label = here.join(' ');
    out.push({ state: r.state, text: label ? `${label}: ${r.summary}` : r.summary });
  }
  for (const c of r.children ?? []) collectProblems(c, r.name ? [r.name] : path, out);
}

export interface RenderOptions {
  /** Service prefix on the status line, e.g. `DRBD`. */
  readonly prefix: string;
  /** At most this many problems are named on the status line (the rest are counted). */
  readonly maxProblemsOnStatusLine?: number;
}

export interface Rendered {
  readonly exitCode: StateCode;
  readonly text: string;
}

/** Long output and perfdata must not break the format: no `|` in text, one line each. */
function clean(s: string): string {
  return s.replace(/\|/g, '/').replace(/[\r\n]+/g, ' ').trim();
}

function longOutputLines(r: CheckResult, depth: number, out: string[]): void {
  for (const c of r.children ?? []) {
    const st = effectiveState(c);
    const name = c.name ? `${c.name}: ` : '';
    out.push(`${'  '.repeat(depth)}[${stateName(st)}] ${clean(name + c.summary)}`);
    longOutputLines(c, depth + 1, out);
  }
}

export function render(result: CheckResult, opts: RenderOptions): Rendered {
  const state = effectiveState(result);
  const problems: Problem[] = [];
  collectProblems(result, [], problems);
  problems.sort((a, b) => severity(b.state) - severity(a.state));
  const max = opts.maxProblemsOnStatusLine ?? 3;
  let message: string;
  if (problems.length === 0) {
    message = result.summary;
  } else {
    const shown = problems.slice(0, max).map((p) => p.text);
    if (problems.length > max) shown.push(`and ${problems.length - max} more problem${problems.length - max === 1 ? '' : 's'}`);
    message = shown.join(', ');
  }
  const perf = formatPerfdataList(collectPerfdata(result, []));
  const first = `${opts.prefix} ${stateName(state)} - ${clean(message)}${perf ? ` | ${perf}` : ''}`;
  const lines = [first];
  longOutputLines(result, 0, lines);
  return { exitCode: state, text: lines.join('\n') + '\n' };
}

/** A result that is only a state and a message (errors, timeouts). */
export function renderMessage(prefix: string, state: StateCode, message: string): Rendered {
  return { exitCode: state, text: `${prefix} ${stateName(state)} - ${clean(message)}\n` };
}
