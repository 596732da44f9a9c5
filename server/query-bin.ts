/** The hawatch-query program (dist/bin/hawatch-query.cjs): see cli/query-main.ts. */
import { queryMain } from './cli/query-main.ts';

void queryMain(process.argv.slice(2), (s) => process.stdout.write(s)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stdout.write(`HAWATCH UNKNOWN - hawatch-query failed: ${String((e as Error)?.message ?? e).split('\n')[0]!.replace(/[;`~$&|'"<>]/g, ' ')}\n`);
    process.exitCode = 3;
  },
);
