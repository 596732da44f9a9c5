/**
 * Nagios plugin states and how they combine.
 *
 * Exit codes are fixed by the plugin API (0..3). Aggregation is NOT numeric: UNKNOWN (3)
 * ranks below WARNING and CRITICAL, because "we could not tell" for one subcheck must not
 * mask a real problem found in another (the monitoring-plugins convention).
 */
export const State = {
  OK: 0,
  WARNING: 1,
  CRITICAL: 2,
  UNKNOWN: 3,
} as const;

export type StateCode = (typeof State)[keyof typeof State];
export type StateName = keyof typeof State;

const NAMES: readonly StateName[] = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'];

/** Severity rank used for "worst wins": OK < UNKNOWN < WARNING < CRITICAL. */
const RANK: Record<StateCode, number> = { 0: 0, 3: 1, 1: 2, 2: 3 };

export function stateName(code: StateCode): StateName {
  return NAMES[code] ?? 'UNKNOWN';
}

/** Any exit status outside 0..3 (a crash, a signal) is UNKNOWN, as Nagios Core treats it. */
export function toStateCode(exitCode: number | null | undefined): StateCode {
  return exitCode === 0 || exitCode === 1 || exitCode === 2 || exitCode === 3 ? exitCode : State.UNKNOWN;
}

/** Parses `OK`, `warning`, `2`, `crit`, ... (for `-t 10:CRITICAL` and config files). */
export function parseStateName(text: string): StateCode | undefined {
  const t = text.trim().toUpperCase();
  if (/^[0-3]$/.test(t)) return Number(t) as StateCode;
  switch (t) {
    case 'OK': return State.OK;
    case 'WARN': case 'WARNING': return State.WARNING;
    case 'CRIT': case 'CRITICAL': return State.CRITICAL;
    case 'UNKNOWN': return State.UNKNOWN;
    default: return undefined;
  }
}

export function severity(code: StateCode): number {
  return RANK[code];
}

/** The worse of the given states; OK for none. */
export function worst(...states: readonly StateCode[]): StateCode {
  let w: StateCode = State.OK;
  for (const s of states) if (RANK[s] > RANK[w]) w = s;
  return w;
}
