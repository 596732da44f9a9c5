/**
 * Runs a planned command the way NRPE does, and returns what goes into the answer:
 * stdout only (stderr is logged at debug), at most `maxOutputBytes` kept (the rest is read and
 * dropped so the command never blocks on a full pipe), NRPE's messages on timeout or empty
 * output, exit codes outside 0..3 become 3. External commands get their own process group
 * so a timeout kills everything they started.
 */
import { spawn } from 'node:child_process';
import { truncateUtf8 } from '../nagios/nrpe.ts';
import { runPlugin } from '../nagios/plugin.ts';
import { expandMacros } from './shellwords.ts';
import { substituteArgs, type CommandPlan } from './commands.ts';

export interface RunRequest {
  readonly plan: CommandPlan;
  readonly args: readonly string[];
  readonly timeoutS: number;
  /** v2 answers keep 1023 bytes, v3/v4 65535; a little more is read so NRPE's newline strip works alike. */
  readonly maxOutputBytes: number;
  /** What the answer packet carries (1023 or 65535 bytes): longer output is cut by fitAnswer. */
  readonly answerBytes?: number;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface RunOutcome {
  readonly code: number;
  /** The answer text as bytes: a command's stdout is passed on as it is, not re-encoded. */
  readonly output: Buffer;
  readonly timedOut: boolean;
  /** Why the command failed to give output (logged, not sent: NRPE sends its fixed texts). */
  readonly problem?: string | undefined;
  readonly stderr?: string | undefined;
}

export const UNKNOWN = 3;

export const NO_OUTPUT = 'NRPE: Unable to read output';

/** NRPE: the first NUL ends the text, empty output is named, one trailing newline is stripped. */
export function finishOutput(raw: Buffer, code: number | null): { code: number; output: Buffer } {
  const nul = raw.indexOf(0);
  const text = nul === -1 ? raw : raw.subarray(0, nul);
  if (text.length === 0) return { code: UNKNOWN, output: Buffer.from(NO_OUTPUT) };
  return { code: normalizeCode(code), output: text[text.length - 1] === 0x0a ? text.subarray(0, -1) : text };
}

export function normalizeCode(code: number | null): number {
  return code !== null && Number.isInteger(code) && code >= 0 && code <= 3 ? code : UNKNOWN;
}

export function timeoutMessage(timeoutS: number): string {
  return `NRPE: Command timed out after ${timeoutS} seconds`;
}

export async function runPlan(req: RunRequest): Promise<RunOutcome> {
  const { plan } = req;
  if (plan.kind === 'inproc') return runInProcess(req, plan);
  if (plan.kind === 'exec') {
    return runChild(expandMacros(plan.file, req.args), substituteArgs(plan.argTemplates, req.args), req);
  }
  return runChild('/bin/sh', ['-c', expandMacros(plan.line, req.args)], req);
}

async function runInProcess(req: RunRequest, plan: Extract<CommandPlan, { kind: 'inproc' }>): Promise<RunOutcome> {
  const argv = substituteArgs(plan.argTemplates, req.args);
  let timer: NodeJS.Timeout | undefined;
  const abort = new AbortController();
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => {
      // Stop the check's commands and connections too, not only the answer to the client.
      abort.abort();
      resolve('timeout');
    }, req.timeoutS * 1000);
  });
  try {
    const r = await Promise.race([runPlugin(plan.plugin, argv, { env: req.env, readStdin: async () => '', signal: abort.signal }), timeout]);
    if (r === 'timeout') return { code: UNKNOWN, output: Buffer.from(timeoutMessage(req.timeoutS)), timedOut: true };
    const out = Buffer.from(r.text, 'utf8');
    const f = finishOutput(out, r.exitCode);
    return { code: f.code, output: fitAnswer(f.output, req.answerBytes ?? req.maxOutputBytes, false), timedOut: false };
  } finally {
    clearTimeout(timer);
  }
}

const STDERR_KEEP = 2048;

function runChild(file: string, args: readonly string[], req: RunRequest): Promise<RunOutcome> {
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    let outBytes = 0;
    let errText = '';
    let done = false;
    let child;
    try {
      child = spawn(file, args, { env: req.env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true, shell: false });
    } catch (e) {
      resolve({ code: UNKNOWN, output: Buffer.from(NO_OUTPUT), timedOut: false, problem: `cannot start '${file}': ${(e as Error).message}` });
      return;
    }
    const killGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    };
    const finish = (o: RunOutcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(o);
    };
    const timer = setTimeout(() => {
      killGroup();
      finish({ code: UNKNOWN, output: Buffer.from(timeoutMessage(req.timeoutS)), timedOut: true, stderr: errText || undefined });
    }, req.timeoutS * 1000);
    child.stdout.on('data', (c: Buffer) => {
      if (outBytes < req.maxOutputBytes) out.push(outBytes + c.length > req.maxOutputBytes ? c.subarray(0, req.maxOutputBytes - outBytes) : c);
      outBytes += c.length;
    });
    child.stderr.on('data', (c: Buffer) => {
      if (errText.length < STDERR_KEEP) errText += c.toString('utf8').slice(0, STDERR_KEEP - errText.length);
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'ENOENT' ? 'not found' : e.code === 'EACCES' ? 'permission denied' : e.message;
      finish({ code: UNKNOWN, output: Buffer.from(NO_OUTPUT), timedOut: false, problem: `cannot run '${file}': ${why}` });
    });
    child.on('close', (code, signal) => {
      const f = finishOutput(Buffer.concat(out), code);
      const r = { code: f.code, output: fitAnswer(f.output, req.answerBytes ?? req.maxOutputBytes, outBytes > req.maxOutputBytes) };
      const problem = signal ? `'${file}' was killed by ${signal}` : outBytes === 0 ? `'${file}' printed nothing on stdout (exit ${code})` : undefined;
      finish({ ...r, timedOut: false, problem, stderr: errText || undefined });
    });
  });
}

/** A perfdata item: `label=value[UOM];warn;crit;min;max`, the label maybe in single quotes. */
function perfItems(text: string): string[] {
  const items: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (i >= text.length) break;
    const start = i;
    if (text[i] === "'") {
      // A quoted label ends at a quote not doubled ('it''s'=1).
      i++;
      while (i < text.length && !(text[i] === "'" && text[i + 1] !== "'")) i += text[i] === "'" ? 2 : 1;
      i++;
    }
    while (i < text.length && !/\s/.test(text[i]!)) i++;
    items.push(text.slice(start, i));
  }
  return items;
}

/**
 * Fits a plugin's output into an answer of `maxBytes` without ever cutting inside a
 * perfdata item (`label=value;warn;crit`, which graphers such as Icinga's GraphiteWriter
 * reject when cut): the text (first line and long output) is kept first, then as many
 * whole perfdata items as fit, moved to the first line; when the text alone is too long, the
 * perfdata is dropped and the text cut (at a line end when one is near). `incomplete`: the
 * output was already cut when read, so its last perfdata item may be partial and is left out.
 */
export function fitAnswer(output: Buffer, maxBytes: number, incomplete: boolean): Buffer {
  if (output.length <= maxBytes && !incomplete) return output;
  const text = output.toString('utf8');
  const nl = text.indexOf('\n');
  const first = nl === -1 ? text : text.slice(0, nl);
  const rest = nl === -1 ? '' : text.slice(nl + 1);
  const bar1 = first.indexOf('|');
  const bar2 = rest.indexOf('|');
  if (bar1 === -1 && bar2 === -1) return incomplete ? truncateUtf8(output, Math.min(maxBytes, output.length)) : truncateUtf8(output, maxBytes);
  const head = (bar1 === -1 ? first : first.slice(0, bar1)).trimEnd();
  const long = (bar2 === -1 ? rest : rest.slice(0, bar2)).trimEnd();
  const items = [...perfItems(bar1 === -1 ? '' : first.slice(bar1 + 1)), ...perfItems(bar2 === -1 ? '' : rest.slice(bar2 + 1))];
  // Where the read was cut inside perfdata (the first line without a newline after it, or
  // the long output's perfdata, which runs to the end), the last item may be a fragment.
  if (incomplete && (nl === -1 || bar2 !== -1)) items.pop();
  const tail = long === '' ? '' : `\n${long}`;
  const size = (s: string): number => Buffer.byteLength(s, 'utf8');
  const textBytes = size(head) + size(tail);
  if (textBytes > maxBytes) {
    const whole = `${head}${tail}`;
    const cut = truncateUtf8(whole, maxBytes).toString('utf8');
    const lineEnd = cut.lastIndexOf('\n');
    // Prefer ending at a whole line unless that throws away most of the room.
    return Buffer.from(lineEnd >= maxBytes / 2 ? cut.slice(0, lineEnd) : cut, 'utf8');
  }
  const kept: string[] = [];
  let used = textBytes + 3; // " | "
  for (const item of items) {
    const add = size(item) + (kept.length ? 1 : 0);
    if (used + add > maxBytes) break;
    kept.push(item);
    used += add;
  }
  return Buffer.from(kept.length ? `${head} | ${kept.join(' ')}${tail}` : `${head}${tail}`, 'utf8');
}
