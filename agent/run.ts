/**
 * Runs a planned command the way NRPE does, and returns what goes into the answer:
 * stdout only (stderr is logged at debug), at most `maxOutputBytes` kept (the rest is read and
 * dropped so the command never blocks on a full pipe), NRPE's messages on timeout or empty
 * output, exit codes outside 0..3 become 3. External commands get their own process group
 * so a timeout kills everything they started.
 */
import { spawn } from 'node:child_process';
import { runPlugin } from '../nagios/plugin.ts';
import { expandMacros } from './shellwords.ts';
import { substituteArgs, type CommandPlan } from './commands.ts';

export interface RunRequest {
  readonly plan: CommandPlan;
  readonly args: readonly string[];
  readonly timeoutS: number;
  /** v2 answers keep 1023 bytes, v3/v4 65535; a little more is read so NRPE's newline strip works alike. */
  readonly maxOutputBytes: number;
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
    return { ...finishOutput(out.length > req.maxOutputBytes ? out.subarray(0, req.maxOutputBytes) : out, r.exitCode), timedOut: false };
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
      const r = finishOutput(Buffer.concat(out), code);
      const problem = signal ? `'${file}' was killed by ${signal}` : outBytes === 0 ? `'${file}' printed nothing on stdout (exit ${code})` : undefined;
      finish({ ...r, timedOut: false, problem, stderr: errText || undefined });
    });
  });
}
