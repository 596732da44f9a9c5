#!/usr/bin/env node
// Entry of `npm run bench:failover`: bundles bench/failover/main.ts (it uses nagios/config.ts
// for nagios.cfg) and runs it with the same arguments from the repository root. The lab
// (scripts/lab/lab.mjs) is loaded as it is, not bundled.
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist', 'bench', 'failover.mjs');
await build({
  entryPoints: [join(root, 'bench', 'failover', 'main.ts')],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  outfile,
  logLevel: 'warning',
});
const child = spawn(process.execPath, [outfile, ...process.argv.slice(2)], { stdio: 'inherit', cwd: root, env: { ...process.env, HAWATCH_ROOT: root } });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
