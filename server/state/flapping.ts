/**
 * Nagios Core 4 flap detection: the last 21 states give 20 transitions; transition i
 * (1 = oldest .. 20 = newest) weighs 0.75 + (i - 1) * 0.5 / 19, so recent changes count
 * more. percent = sum of the weights of actual changes * 100 / 20. Flapping starts at
 * >= high, stops at <= low; in between the previous verdict stands (hysteresis).
 */
import type { FlapPolicy, FlapStatus } from './types.ts';

export const FLAP_HISTORY = 21;
const LOW_WEIGHT = 0.75;
const HIGH_WEIGHT = 1.25;

export function percentStateChange(history: readonly number[]): number {
  let sum = 0;
  const transitions = FLAP_HISTORY - 1;
  // Align so that the newest transition always gets the highest weight, also while the
  // history is still filling up (missing old entries count as "no change").
  const offset = FLAP_HISTORY - history.length;
  for (let j = 1; j < history.length; j++) {
    if (history[j] !== history[j - 1]) {
      const i = j + offset; // 1..20
      sum += LOW_WEIGHT + ((i - 1) * (HIGH_WEIGHT - LOW_WEIGHT)) / (transitions - 1);
    }
  }
  return (sum * 100) / transitions;
}

export interface FlapStep {
  readonly flap: FlapStatus;
  readonly started: boolean;
  readonly stopped: boolean;
}

export function recordState(prev: FlapStatus, state: number, policy: FlapPolicy): FlapStep {
  const history = [...prev.history, state].slice(-FLAP_HISTORY);
  const percent = percentStateChange(history);
  let flapping = prev.flapping;
  if (!policy.enabled) flapping = false;
  else if (percent >= policy.highPercent) flapping = true;
  else if (percent <= policy.lowPercent) flapping = false;
  return {
    flap: { history, percent, flapping },
    started: flapping && !prev.flapping,
    stopped: !flapping && prev.flapping,
  };
}
