import { describe, expect, it } from 'vitest';
import { parseStateName, State, stateName, toStateCode, worst } from '../../nagios/states.ts';

describe('states', () => {
  it('exit codes are the plugin API values', () => {
    expect(State).toEqual({ OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 });
    expect([0, 1, 2, 3].map((c) => stateName(toStateCode(c)))).toEqual(['OK', 'WARNING', 'CRITICAL', 'UNKNOWN']);
  });
  it('worst-state ordering is CRITICAL > WARNING > UNKNOWN > OK, not numeric', () => {
    expect(worst(State.UNKNOWN, State.WARNING)).toBe(State.WARNING);
    expect(worst(State.UNKNOWN, State.CRITICAL)).toBe(State.CRITICAL);
    expect(worst(State.OK, State.UNKNOWN)).toBe(State.UNKNOWN);
    expect(worst(State.WARNING, State.CRITICAL, State.UNKNOWN)).toBe(State.CRITICAL);
    expect(worst()).toBe(State.OK);
  });
  it('exit statuses outside 0..3 are UNKNOWN', () => {
    for (const c of [4, 127, 255, -1, null, undefined]) expect(toStateCode(c)).toBe(State.UNKNOWN);
  });
  it('parses state names for -t N:STATE', () => {
    expect(parseStateName('critical')).toBe(State.CRITICAL);
    expect(parseStateName('WARN')).toBe(State.WARNING);
    expect(parseStateName('0')).toBe(State.OK);
    expect(parseStateName('bogus')).toBeUndefined();
  });
});
