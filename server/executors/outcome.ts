/**
 * Building CheckOutcomes: every executor ends in one of these two, so a failed transport
 * looks the same (one clear first line, no perfdata) whichever executor hit it.
 */
import { interpretPluginRun, parsePluginOutput } from '../../nagios/output.ts';
import { plainText } from '../core/text.ts';
import type { StateCode } from '../../nagios/states.ts';
import type { CheckOutcome, ExecutorFailure } from './types.ts';

/** A plugin ran (locally, over SSH or on an NRPE agent) and gave an exit code and stdout. */
export function pluginOutcome(exitCode: number | null, stdout: string, startedAt: number, monoStart: number): CheckOutcome {
  return { ...interpretPluginRun(exitCode, stdout), executedAt: startedAt, durationMs: elapsed(monoStart) };
}

/** The check could not run or did not answer: `message` is the status line. */
export function failureOutcome(failure: ExecutorFailure, state: StateCode, message: string, startedAt: number, monoStart: number): CheckOutcome {
  // A single line: a message built from an error text must not grow long output.
  // The server's own words, shown on the page and in notifications: plain text (core/text.ts).
  const line = plainText(message.replace(/\s*\n\s*/g, ' ').trim());
  return { ...parsePluginOutput(''), output: line, state, failure, executedAt: startedAt, durationMs: elapsed(monoStart) };
}

export function elapsed(monoStart: number): number {
  return Math.round((performance.now() - monoStart) * 1000) / 1000;
}

/** "5 s", "0.5 s": timeouts as people write them. */
export function seconds(ms: number): string {
  const s = ms / 1000;
  return `${Math.round(s * 100) / 100} s`;
}

/** The first line of an error message, for status lines. */
export function errorText(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return (msg.split('\n')[0] ?? '').trim();
}

/** Node's errno codes in words, as check_nrpe prints strerror(). */
export function describeSocketError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ECONNREFUSED': return 'Connection refused';
    case 'ECONNRESET': return 'Connection reset by peer';
    case 'EHOSTUNREACH': return 'No route to host';
    case 'ENETUNREACH': return 'Network is unreachable';
    case 'ETIMEDOUT': return 'Connection timed out';
    case 'EPIPE': return 'Broken pipe (the peer closed the connection)';
    case 'ENOTFOUND': return 'host name not found in DNS';
    case 'EAI_AGAIN': return 'temporary DNS failure';
    case 'EADDRNOTAVAIL': return 'Cannot assign requested address';
    default: return errorText(e);
  }
}

/**
 * Nagios shows "(No output on stdout)" for a plugin that printed nothing there; when it
 * printed on stderr, that is usually why (a missing plugin, a bad option): say so.
 */
export function explainEmptyStdout(outcome: CheckOutcome, exitCode: number | null, stderr: string, signal?: string | null): CheckOutcome {
  if (outcome.output !== '(No output on stdout)' || outcome.longOutput !== '') return outcome;
  const err = (stderr.split('\n').find((l) => l.trim() !== '') ?? '').trim();
  const status = exitCode === null ? `killed by ${signal ? (signal.startsWith('SIG') ? signal : `SIG${signal}`) : 'a signal'}` : `exit status ${exitCode}`;
  const hint = exitCode === 127 ? ' (command not found: check the plugin path)' : exitCode === 126 ? ' (the plugin is not executable)' : '';
  return { ...outcome, output: plainText(`(No output on stdout) ${status}${err ? `, stderr: ${err.slice(0, 300)}` : ''}${hint}`) };
}
