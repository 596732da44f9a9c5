#!/usr/bin/env node
// Entry of `npm run bench:overview`: bundles bench/overview/main.ts (it starts the server's
// runtime from its TypeScript source, in this process, to measure its event loop) and runs it.
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist', 'bench', 'overview.mjs');
await build({
  entryPoints: [join(root, 'bench', 'overview', 'main.ts')],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  outfile,
  logLevel: 'warning',
  define: { __HAWATCH_VERSION__: '"bench"' },
});
const child = spawn(process.execPath, [outfile, ...process.argv.slice(2)], { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
