/** check_users' judgement: more than -w users is WARNING, more than -c CRITICAL. Pure. */
import { parseRange } from '../../nagios/range.ts';
import { detail, type CheckResult } from '../../nagios/result.ts';
import { State, type StateCode } from '../../nagios/states.ts';
import type { UtmpEntry } from './parse.ts';

export interface UsersInput {
  readonly users: readonly UtmpEntry[];
  readonly warning?: number | undefined;
  readonly critical?: number | undefined;
  /** Why there is no utmp file, when there is none. */
  readonly note?: string | undefined;
}

export function evaluateUsers(i: UsersInput): CheckResult {
  const n = i.users.length;
  let state: StateCode = State.OK;
  if (i.critical !== undefined && n > i.critical) state = State.CRITICAL;
  else if (i.warning !== undefined && n > i.warning) state = State.WARNING;
  const children = i.users.map((u) => detail(u.user, State.OK, `on ${u.line || 'no terminal'}${u.host ? ` from ${u.host}` : ''}${u.loginSec > 0 ? ` since ${new Date(u.loginSec * 1000).toISOString().replace('.000Z', 'Z')}` : ''}`));
  if (i.note) children.push(detail('utmp', State.OK, i.note));
  return {
    state,
    summary: `${n} user${n === 1 ? '' : 's'} currently logged in`,
    perfdata: [{ label: 'users', value: n, warning: i.warning === undefined ? undefined : parseRange(String(i.warning)), critical: i.critical === undefined ? undefined : parseRange(String(i.critical)), min: 0 }],
    children,
  };
}
