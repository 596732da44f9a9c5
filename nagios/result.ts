/**
 * The result of a check: a tree of subchecks whose worst state wins, rendered in the
 * Nagios plugin output format (status line, long output, perfdata).
 *
 * What real Nagios and Icinga do to the output decides two rules here, for every plugin:
 * - Nagios 4 turns `;` into `:` in the output and its default `illegal_macro_output_chars`
 *   strips `` ` ~ $ & | ' " < > `` from it in notifications, so the status line never carries
 *   them, whatever a resource name or a quoted error message contains (statusText()).
 * - Nagios 4's worker keeps only the first 8 KiB of a result (the rest, long output and
 *   perfdata included, is lost mid-token), so a result that does not fit is shortened here:
 *   problems first, OK subtrees collapsed and counted, perfdata of problems first.
 */
import { formatPerfdata, type Perfdata } from './perfdata.ts';
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
  /**
   * On the root: a plural noun for its children ("resources", "backends"). When there are
   * problems, the status line then ends with how many of them are OK ("38 of 40 resources
   * OK"), so a short line still says how much is healthy.
   */
  readonly items?: string | undefined;
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

/** Nagios 4's worker limit: whatever comes after is lost. */
export const DEFAULT_MAX_BYTES = 8192;
/** With -v: more detail, still bounded (Icinga 2 and NRPE v3 take this much). */
export const VERBOSE_MAX_BYTES = 65536;
/** A status line longer than this is unreadable in a notification or a pager anyway. */
const STATUS_TEXT_MAX_BYTES = 1000;
/** One problem named on the status line (a quoted MySQL error can be a paragraph). */
const PROBLEM_TEXT_MAX_BYTES = 400;
/** One long output line. */
const LINE_MAX_BYTES = 1000;

export interface RenderOptions {
  /** Service prefix on the status line, e.g. `DRBD`. */
  readonly prefix: string;
  /** At most this many problems are named on the status line (the rest are counted). */
  readonly maxProblemsOnStatusLine?: number;
  /** The whole output stays within this many bytes (default 8 KiB, Nagios 4's limit). */
  readonly maxBytes?: number;
}

export interface Rendered {
  readonly exitCode: StateCode;
  readonly text: string;
}

/**
 * Status line text as Nagios 4 and its notifications keep it intact: `;` (turned into `:`)
 * becomes `,`, `|` (starts perfdata) becomes `/`, `&` becomes `+`, and the characters of
 * `illegal_macro_output_chars` (`` ` ~ $ ' " < > ``) are dropped. Plugins write their own
 * text without them; this catches what comes from outside (names, quoted error messages).
 */
export function statusText(s: string): string {
  return s
    .replace(/;/g, ',')
    .replace(/\|/g, '/')
    .replace(/&/g, '+')
    .replace(/[`~$'"<>]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Long output must not break the format: no `|` (it starts perfdata there too), one line. */
function longText(s: string): string {
  return s.replace(/\|/g, '/').replace(/[\r\n]+/g, ' ').trim();
}

function bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** At most `max` bytes, cut on a character boundary, marked with `...` when cut. */
export function cutText(s: string, max: number): string {
  if (bytes(s) <= max) return s;
  const head = Buffer.from(s, 'utf8').subarray(0, Math.max(0, max - 3)).toString('utf8').replace(/\uFFFD+$/, '');
  return `${head.trimEnd()}...`;
}

function kib(n: number): string {
  return `${Math.round(n / 1024)} KiB`;
}

/** One node of the long output, in a tree that can be reordered and pruned. */
interface Line {
  readonly text: string;
  readonly state: StateCode;
  readonly perf: readonly string[];
  readonly children: Line[];
  depth: number;
  /** Lines in this subtree, itself included. */
  size: number;
}

function buildLines(r: CheckResult, depth: number): Line[] {
  return (r.children ?? []).map((c) => {
    const name = c.name ? `${c.name}: ` : '';
    const children = buildLines(c, depth + 1);
    return {
      text: cutText(longText(name + c.summary), LINE_MAX_BYTES),
      state: effectiveState(c),
      perf: (c.perfdata ?? []).map(formatPerfdata).filter((t) => t !== ''),
      children,
      depth,
      size: 1 + children.reduce((n, x) => n + x.size, 0),
    };
  });
}

function lineText(l: Line): string {
  return `${'  '.repeat(l.depth)}[${stateName(l.state)}] ${l.text}`;
}

function walk(lines: readonly Line[], visit: (l: Line) => void): void {
  for (const l of lines) {
    visit(l);
    walk(l.children, visit);
  }
}

/** Problems first at every level (worst first, otherwise in the plugin's order). */
function problemsFirst(lines: Line[]): Line[] {
  const sorted = lines
    .map((l, i) => ({ l, i }))
    .sort((a, b) => severity(b.l.state) - severity(a.l.state) || a.i - b.i)
    .map((x) => x.l);
  for (const l of sorted) l.children.splice(0, l.children.length, ...problemsFirst(l.children));
  return sorted;
}

function statusLine(result: CheckResult, state: StateCode, opts: RenderOptions): string {
  const problems: Problem[] = [];
  collectProblems(result, [], problems);
  problems.sort((a, b) => severity(b.state) - severity(a.state));
  const max = opts.maxProblemsOnStatusLine ?? 3;
  let message: string;
  if (problems.length === 0) {
    message = statusText(result.summary);
  } else {
    const shown = problems.slice(0, max).map((p) => cutText(statusText(p.text), PROBLEM_TEXT_MAX_BYTES));
    if (problems.length > max) shown.push(`and ${problems.length - max} more problem${problems.length - max === 1 ? '' : 's'}`);
    // Informational lines (a note on the input) are not items of the kind counted.
    const items = (result.children ?? []).filter((c) => !c.informational);
    const okItems = items.filter((c) => effectiveState(c) === State.OK).length;
    if (result.items && okItems > 0) shown.push(`${okItems} of ${items.length} ${statusText(result.items)} OK`);
    message = shown.join(', ');
  }
  return `${opts.prefix} ${stateName(state)} - ${cutText(message, STATUS_TEXT_MAX_BYTES)}`;
}

export function render(result: CheckResult, opts: RenderOptions): Rendered {
  const state = effectiveState(result);
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const head = statusLine(result, state, opts);
  const rootPerf = (result.perfdata ?? []).map(formatPerfdata).filter((t) => t !== '');
  const lines = buildLines(result, 0);

  // Everything, in the plugin's order, when it fits (the usual case).
  const allPerf = [...rootPerf];
  const allLines: string[] = [];
  walk(lines, (l) => {
    allPerf.push(...l.perf);
    allLines.push(lineText(l));
  });
  const full = [`${head}${allPerf.length ? ` | ${allPerf.join(' ')}` : ''}`, ...allLines].join('\n') + '\n';
  if (bytes(full) <= maxBytes) return { exitCode: state, text: full };
  return { exitCode: state, text: shortened(head, rootPerf, problemsFirst(lines), maxBytes) };
}

/**
 * The output cut to `maxBytes`: the status line whole; long output lines of problems first
 * (up to 60% of what is left), then perfdata (the root's and the problems' first) and OK
 * lines sharing the rest, OK subtrees shown from the top down so that a long list collapses
 * to one line per item; what was left out is counted where it was and in a closing note.
 */
function shortened(head: string, rootPerf: readonly string[], lines: readonly Line[], maxBytes: number): string {
  const problems: Line[] = [];
  const ok: Line[] = [];
  walk(lines, (l) => (l.state === State.OK ? ok : problems).push(l));
  const parentOf = new Map<Line, Line>();
  walk(lines, (l) => l.children.forEach((c) => parentOf.set(c, l)));
  // OK lines under a problem first (they are its context: the volume that is fine next to
  // the peer that is not), then top-down: every OK item gets its own line before any gets
  // its details.
  const underProblem = (l: Line): boolean => (parentOf.get(l)?.state ?? State.OK) !== State.OK;
  const okOrder = [...ok.filter(underProblem), ...ok.filter((l) => !underProblem(l)).sort((a, b) => a.depth - b.depth)];
  const perfOrder = [...rootPerf, ...problems.flatMap((l) => l.perf), ...ok.filter(underProblem).flatMap((l) => l.perf), ...ok.filter((l) => !underProblem(l)).flatMap((l) => l.perf)];
  const cost = (l: Line): number => bytes(lineText(l)) + 1;
  const perfCost = (p: string): number => bytes(p) + 1;
  const okFull = okOrder.reduce((n, l) => n + cost(l), 0);
  const perfFull = perfOrder.reduce((n, p) => n + perfCost(p), 0);

  // The notes (per-parent "... and N more" lines, the closing note) are not known before
  // the choice is made: reserve a guess, and give back or take more until the text fits.
  let reserve = 300;
  for (let attempt = 0; attempt < 8; attempt++) {
    const avail = Math.max(0, maxBytes - bytes(head) - 4 - reserve);
    const shown = new Set<Line>();
    let used = 0;
    for (const l of problems) {
      if (used + cost(l) > avail * 0.6) break;
      used += cost(l);
      shown.add(l);
    }
    const rest = avail - used;
    let perfBudget = perfFull;
    if (okFull + perfFull > rest) perfBudget = perfFull <= rest / 2 ? perfFull : okFull <= rest / 2 ? rest - okFull : rest / 2;
    const perf: string[] = [];
    let perfUsed = 0;
    for (const p of perfOrder) {
      if (perfUsed + perfCost(p) > perfBudget) break;
      perfUsed += perfCost(p);
      perf.push(p);
    }
    let okUsed = 0;
    for (const l of okOrder) {
      const parent = parentOf.get(l);
      if (parent && !shown.has(parent)) continue;
      if (okUsed + cost(l) > rest - perfUsed) break;
      okUsed += cost(l);
      shown.add(l);
    }

    const out: string[] = [];
    let hiddenOk = 0;
    let hiddenProblems = 0;
    const emit = (list: readonly Line[], depth: number, noteHere: boolean): void => {
      let hidden = 0;
      let hiddenNotOk = 0;
      for (const l of list) {
        if (shown.has(l)) {
          out.push(lineText(l));
          // An OK line's hidden details are only counted in the closing note: one more
          // line per collapsed item would cost what collapsing saves.
          emit(l.children, depth + 1, l.state !== State.OK);
          continue;
        }
        hidden += l.size;
        walk([l], (x) => {
          if (x.state === State.OK) hiddenOk++;
          else {
            hiddenProblems++;
            hiddenNotOk++;
          }
        });
      }
      if (hidden > 0 && noteHere) {
        const what = hiddenNotOk === 0 ? `${hidden} more OK line${hidden === 1 ? '' : 's'}` : `${hidden} more lines, ${hiddenNotOk} of them not OK`;
        out.push(`${'  '.repeat(depth)}... and ${what}`);
      }
    };
    emit(lines, 0, true);
    const leftPerf = perfOrder.length - perf.length;
    const left: string[] = [];
    if (hiddenProblems) left.push(`${hiddenProblems} problem line${hiddenProblems === 1 ? '' : 's'}`);
    if (hiddenOk) left.push(`${hiddenOk} OK line${hiddenOk === 1 ? '' : 's'}`);
    if (leftPerf) left.push(`${leftPerf} perfdata item${leftPerf === 1 ? '' : 's'}`);
    if (left.length) {
      const more = maxBytes < VERBOSE_MAX_BYTES ? ', -v shows more' : '';
      out.push(`(output shortened to stay within ${kib(maxBytes)}: ${left.join(', ')} left out${more})`);
    }
    const text = [`${head}${perf.length ? ` | ${perf.join(' ')}` : ''}`, ...out].join('\n') + '\n';
    const size = bytes(text);
    if (size <= maxBytes) return text;
    reserve += size - maxBytes + 64;
  }
  // Not reached with sane limits; a last resort that still ends on a line boundary.
  return `${cutText(head, maxBytes - 1)}\n`;
}

/** A result that is only a state and a message (errors, timeouts). */
export function renderMessage(prefix: string, state: StateCode, message: string): Rendered {
  return { exitCode: state, text: `${prefix} ${stateName(state)} - ${cutText(statusText(message), STATUS_TEXT_MAX_BYTES)}\n` };
}
