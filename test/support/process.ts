/** Stopping the daemons a test started (only those: other helpers' processes are never touched). */
import type { ChildProcess } from 'node:child_process';

/** Sends `signal`, then SIGKILL if the process has not exited after `killAfterMs`; resolves once it exited. */
export function stopChild(child: ChildProcess, killAfterMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}
