/**
 * The hawatch-server process: listens, logs, reloads on SIGHUP, stops gracefully on
 * SIGINT/SIGTERM (running checks aborted, the outbox left for the next start). The only
 * place that exits.
 */
import { cli } from './cli/cli.ts';

const script = process.argv[1] ?? 'hawatch-server';

// The monitor must outlive its own bugs: a rejection nobody handled is logged, not fatal
// (Node's default would end the process and with it every check and notification).
process.on('unhandledRejection', (e: unknown) => {
  process.stderr.write(`hawatch-server: unhandled error, still running: ${(e as Error)?.stack ?? String(e)}\n`);
});

cli(process.argv.slice(2), {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  script,
  executorFactory: async () => (await import('./executors/index.ts')).createExecutor,
  serve: (rt, _url, reload) =>
    new Promise<void>((resolve) => {
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        rt.app.log.info(`${signal}: stopping`);
        // A stop that hangs (a stuck executor) must not keep the process alive forever.
        setTimeout(() => {
          process.stderr.write('hawatch-server: graceful stop took more than 15 s; exiting\n');
          process.exit(1);
        }, 15_000).unref();
        resolve();
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGHUP', () => {
        void reload();
      });
    }),
}).then(
  (code) => {
    process.exitCode = code;
    // After a clean stop too: a connection to an unreachable database (a connect still
    // timing out) must not keep the process alive; 1 s lets the last log lines out.
    setTimeout(() => process.exit(code), code !== 0 ? 100 : 1000).unref();
  },
  (e: unknown) => {
    process.stderr.write(`hawatch-server: internal error: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
