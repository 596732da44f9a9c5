import { interpretPluginRun } from '../../nagios/output.ts';
import type { CheckOutcome, CheckRequest, Executor, ExecutorFactory } from '../../server/executors/types.ts';

/** A fake executor: the test sets the answer per host (or host+argv[0]); records every request. */
export class FakeExecutors {
  readonly requests: CheckRequest[] = [];
  answers = new Map<string, { code: number; stdout: string }>();
  /** Simulated run time; with a fake clock the promise resolves on the next microtask. */
  delay: ((req: CheckRequest) => Promise<void>) | null = null;
  running = 0;
  maxRunning = 0;
  set(target: string, code: number, stdout?: string): void {
    this.answers.set(target, { code, stdout: stdout ?? `${['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'][code] ?? 'UNKNOWN'} - ${target}` });
  }
  factory: ExecutorFactory = () => {
    const ex: Executor = {
      run: async (req) => {
        this.requests.push(req);
        this.running++;
        this.maxRunning = Math.max(this.maxRunning, this.running);
        try {
          if (this.delay) {
            await Promise.race([
              this.delay(req),
              new Promise<void>((resolve) => req.signal?.addEventListener('abort', () => resolve(), { once: true })),
            ]);
          }
          const first = req.command.kind === 'argv' ? req.command.argv.join(' ') : req.command.command;
          const a = this.answers.get(`${req.hostName} ${first}`) ?? this.answers.get(req.hostName) ?? { code: 0, stdout: 'OK - default' };
          const run = interpretPluginRun(a.code, a.stdout);
          const outcome: CheckOutcome = { ...run, durationMs: 1, executedAt: Date.now() };
          return outcome;
        } finally {
          this.running--;
        }
      },
      close: async () => {},
    };
    return ex;
  };
}

/** Lets pending promise callbacks run (fake-clock tests). */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
  await new Promise((r) => setImmediate(r));
}

/** The runtime's store as the SQLite one these tests start (its answers are synchronous). */
export function syncStore(store: import('../../server/store/types.ts').AnyStore): import('../../server/store/types.ts').Store {
  if ('session' in store) throw new Error('this test reads the SQLite store synchronously; it got the PostgreSQL one');
  return store as import('../../server/store/types.ts').Store;
}
