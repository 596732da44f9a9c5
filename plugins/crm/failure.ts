/**
 * What to tell the user when crm_mon itself fails. Pure: exit code and text in, state and
 * one line out.
 *
 * Pacemaker 2.x exit codes (crm_exit_t): 4 insufficient privileges, 64 usage, 69 unavailable,
 * 77 no permission, 102 not connected ("Not connected"), 124 timeout. Pacemaker 1.1 returned
 * errno values instead (107 ENOTCONN) and printed "Error: cluster is not available on this
 * node" or "Connection to cluster failed: <reason>" on stdout, so the text is checked too.
 */
import { State, type StateCode } from '../../nagios/states.ts';

export const CRM_EXIT = {
  INSUFFICIENT_PRIV: 4,
  USAGE: 64,
  UNAVAILABLE: 69,
  NOPERM: 77,
  DISCONNECT: 102,
  TIMEOUT: 124,
} as const;

export interface CrmMonFailure {
  /** Exit status of crm_mon, or the `<status code>` it reported in its XML. */
  readonly code: number | null;
  /** Error lines crm_mon printed (stderr, or `<errors>` in its XML). */
  readonly messages: readonly string[];
  /** Set when crm_mon read a saved CIB (CIB_file / --cib-file) rather than a live cluster. */
  readonly cibFile?: string | undefined;
  /** Set when the check did not run as root (crm_mon then needs the haclient group). */
  readonly user?: string | undefined;
}

export interface FailureVerdict {
  readonly state: StateCode;
  readonly message: string;
}

const UNREACHABLE = /not connected|connection refused|cluster is not available|could not connect|connection to (the )?cluster failed|transport endpoint is not connected|no such device or address/i;
const DENIED = /permission denied|insufficient privileges|access denied|not authori[sz]ed|operation not permitted/i;

function clean(line: string): string {
  return line.replace(/^\s*(crm_mon:\s*)?(error:\s*)?/i, '').trim();
}

/** The most informative line: the last one mentioning a cause, else the last one. */
export function mainMessage(messages: readonly string[]): string {
  const lines = messages.flatMap((m) => m.split('\n')).map((l) => l.trim()).filter((l) => l !== '');
  const useful = lines.filter((l) => UNREACHABLE.test(l) || DENIED.test(l) || /fail|error/i.test(l));
  return clean(useful[useful.length - 1] ?? lines[lines.length - 1] ?? '');
}

/** True when crm_mon rejected --output-as: a Pacemaker 1.1 or 2.0.0-2.0.2 crm_mon. */
export function isOldCrmMonUsageError(code: number | null, text: string): boolean {
  if (/<pacemaker-result[\s>]/.test(text)) return false;
  if (!/output-as/.test(text)) return false;
  return /unrecogni[sz]ed option|unknown option|invalid option/i.test(text) || code === CRM_EXIT.USAGE;
}

export function describeCrmMonFailure(f: CrmMonFailure): FailureVerdict {
  const text = f.messages.join('\n');
  const detail = mainMessage(f.messages) || 'no error message';
  const denied = f.code === CRM_EXIT.INSUFFICIENT_PRIV || f.code === CRM_EXIT.NOPERM || DENIED.test(text);
  if (denied) {
    return {
      state: State.UNKNOWN,
      message: `crm_mon was denied access to the cluster (${detail}): run the check as root, add ${f.user ? `user '${f.user}'` : 'its user'} to the haclient group, or use --sudo with the sudoers rule from the README`,
    };
  }
  if (f.code === CRM_EXIT.TIMEOUT) {
    return { state: State.UNKNOWN, message: `crm_mon timed out talking to the cluster (${detail}); raise -t or check the cluster daemons` };
  }
  const unreachable = f.code === CRM_EXIT.DISCONNECT || f.code === CRM_EXIT.UNAVAILABLE || UNREACHABLE.test(text);
  if (unreachable) {
    if (f.cibFile !== undefined) {
      return { state: State.UNKNOWN, message: `crm_mon could not read the saved CIB '${f.cibFile}' (CIB_file): ${detail}` };
    }
    const hint = f.user ? `; if Pacemaker does run here, user '${f.user}' may lack the haclient group` : '';
    return {
      state: State.CRITICAL,
      message: `cannot connect to the cluster on this node: ${detail}; is Pacemaker running (systemctl status pacemaker corosync)?${hint}`,
    };
  }
  return { state: State.UNKNOWN, message: `crm_mon failed (${f.code === null ? 'killed by a signal' : `exit status ${f.code}`}): ${detail}` };
}
