/**
 * A bound on a shutdown step that waits on something outside (PostgreSQL cut off by a
 * firewall answers nothing, and TCP gives up only after minutes): the step's promise is
 * left to settle on its own, and the stop goes on after `ms`.
 */
export async function within(ms: number, step: Promise<unknown> | undefined, onLate: () => void): Promise<boolean> {
  if (!step) return true;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    const done = await Promise.race([step.then(() => true as const, () => true as const), late]);
    if (!done) onLate();
    return done;
  } finally {
    clearTimeout(timer);
  }
}
