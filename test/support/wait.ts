/** Bounded polling for tests that wait on real daemons. */
import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  /** Pause between probes (default 100 ms). */
  readonly everyMs?: number;
  /** Checked before each probe: a text means waiting is pointless (the daemon exited), and fails at once. */
  readonly stopWhen?: () => string | undefined;
}

/**
 * Calls `probe` until it returns something other than undefined or false, and returns that.
 * A probe that throws counts as "not yet"; its last error is quoted if time runs out after
 * `timeoutMs`.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  opts: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const stop = opts.stopWhen?.();
    if (stop !== undefined) throw new Error(`gave up waiting for ${what}: ${stop}`);
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? ` (last error: ${last instanceof Error ? last.message : String(last)})` : ''}`);
    }
    await sleep(opts.everyMs ?? 100);
  }
}
