// Shared by the bench entries that run TypeScript (bench:scheduler, bench:ha): bundles
// bench/<name>/main.ts to dist/bench/<name>.cjs (it imports the server's TypeScript source)
// and runs it with this process's arguments, passing SIGINT/SIGTERM on so it can stop what
// it started. The phases that run the server use the built executables in dist/bin.
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export async function runBundled(name) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const outfile = join(root, 'dist', 'bench', `${name}.cjs`);
  await build({
    entryPoints: [join(root, 'bench', name, 'main.ts')],
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
}
