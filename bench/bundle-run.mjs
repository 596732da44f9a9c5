// What every `npm run bench:NAME` entry does: bundle bench/NAME/main.ts with esbuild (the
// benchmarks import the TypeScript sources; packages stay external) and run the bundle with
// the same arguments from the repository root, passing SIGINT and SIGTERM on so a stopped
// benchmark cleans up after itself.
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** format: 'esm' (default) or 'cjs' (for sources that need require or __dirname). */
export async function bundleAndRun(name, { format = 'esm' } = {}) {
  const outfile = join(root, 'dist', 'bench', `${name}.${format === 'cjs' ? 'cjs' : 'mjs'}`);
  await build({
    entryPoints: [join(root, 'bench', name, 'main.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format,
    packages: 'external',
    outfile,
    logLevel: 'warning',
    define: { __HAWATCH_VERSION__: '"bench"' },
  });
  const child = spawn(process.execPath, [outfile, ...process.argv.slice(2)], { stdio: 'inherit', cwd: root, env: { ...process.env, HAWATCH_ROOT: root } });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}
