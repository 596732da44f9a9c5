#!/usr/bin/env node
// Entry of `npm run bench:scheduler`: bundles bench/scheduler/main.ts (it uses the
// executors' TypeScript source for the raw executor phase) and runs it with the same
// arguments. The server and agent phases use the built executables in dist/bin.
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist', 'bench', 'scheduler.cjs');
await build({
  entryPoints: [join(root, 'bench', 'scheduler', 'main.ts')],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  outfile,
  logLevel: 'warning',
  define: { __HAWATCH_VERSION__: '"bench"' },
});
const child = spawn(process.execPath, [outfile, ...process.argv.slice(2)], { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
