// Bundles every plugin into one standalone executable file (dist/bin/check_ha_<name>.cjs)
// so that a check run loads a single small script: start-up is paid on every check.
// The agent and server are bundled too, with their npm dependencies left external.
import { build } from 'esbuild';
import { chmod, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
const outDir = join(root, 'dist', 'bin');
await rm(join(root, 'dist'), { recursive: true, force: true });
await mkdir(outDir, { recursive: true });

const exists = (p) => stat(p).then(() => true, () => false);
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  banner: { js: '#!/usr/bin/env node' },
  define: { __HAWATCH_VERSION__: JSON.stringify(pkg.version) },
  legalComments: 'none',
  logLevel: 'warning',
};

const plugins = [];
for (const entry of (await readdir(join(root, 'plugins'), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
  if (entry.isDirectory() && (await exists(join(root, 'plugins', entry.name, 'index.ts')))) plugins.push(entry.name);
}

const problems = [];
for (const name of plugins) {
  const bin = `check_ha_${name}`;
  const outfile = join(outDir, `${bin}.cjs`);
  await build({
    ...common,
    stdin: {
      contents: `import d from './plugins/${name}/index.ts';\nimport { main } from './nagios/main.ts';\nmain(d);\n`,
      resolveDir: root,
      sourcefile: `${bin}.ts`,
      loader: 'ts',
    },
    outfile,
    minifyWhitespace: true,
    minifySyntax: true,
  });
  await chmod(outfile, 0o755);
  if (pkg.bin?.[bin] !== `dist/bin/${bin}.cjs`) problems.push(`package.json "bin" lacks "${bin}": "dist/bin/${bin}.cjs"`);
}

for (const [bin, src] of [['hawatch-agent', 'agent/main.ts'], ['hawatch-server', 'server/main.ts']]) {
  if (!(await exists(join(root, src)))) continue;
  const outfile = join(outDir, `${bin}.cjs`);
  await build({ ...common, entryPoints: [join(root, src)], outfile, packages: 'external', sourcemap: 'inline' });
  await chmod(outfile, 0o755);
  if (pkg.bin?.[bin] !== `dist/bin/${bin}.cjs`) problems.push(`package.json "bin" lacks "${bin}": "dist/bin/${bin}.cjs"`);
}

if (problems.length) {
  console.error(`build: ${problems.join('; ')}`);
  process.exit(1);
}
console.log(`build: ${plugins.length} plugins${plugins.length ? ` (${plugins.map((p) => `check_ha_${p}`).join(', ')})` : ''} in dist/bin`);
