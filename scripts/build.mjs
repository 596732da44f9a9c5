// Bundles every plugin into one standalone executable file (dist/bin/check_ha_<name>.cjs)
// so that a check run loads a single small script: start-up is paid on every check.
// The agent and server are bundled too, with their pure-JavaScript npm dependencies inside,
// so that every program in dist/ runs from any directory with only Node.js. The one native
// module the server needs (better-sqlite3) cannot be bundled: it is copied beside the
// server into dist/lib/node_modules/ and required from there at run time (relative to the
// bundle, so dist/ moves as one piece). Third-party licences go to dist/THIRD-PARTY-LICENSES.
import { build } from 'esbuild';
import { chmod, cp, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
const outDir = join(root, 'dist', 'bin');
await rm(join(root, 'dist'), { recursive: true, force: true });
await mkdir(outDir, { recursive: true });

const exists = (p) => stat(p).then(() => true, () => false);
const common = {
  absWorkingDir: root, // metafile input paths are relative to this
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
const thirdParty = new Map(); // package directory -> name
const packageDirOf = (input) => {
  const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
  return m ? m[1] : null;
};
for (const name of plugins) {
  const bin = `check_ha_${name}`;
  const outfile = join(outDir, `${bin}.cjs`);
  const result = await build({
    ...common,
    metafile: true,
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
  for (const input of Object.keys(result.metafile.inputs)) {
    const dir = packageDirOf(input);
    if (dir) thirdParty.set(join(root, dir), dir.replace(/^.*node_modules\//, ''));
  }
}

// The native module carried beside the server, with the packages it requires at run time.
const NATIVE = 'better-sqlite3';
const NATIVE_FILES = {
  'better-sqlite3': ['package.json', 'LICENSE', 'lib', 'build/Release/better_sqlite3.node'],
  bindings: ['package.json', 'LICENSE.md', 'bindings.js'],
  'file-uri-to-path': ['package.json', 'LICENSE', 'index.js'],
};
const nativeBeside = {
  name: 'native-beside',
  setup(b) {
    // require('better-sqlite3') becomes a require of dist/lib/node_modules/better-sqlite3,
    // found from the bundle's own directory (__dirname of the .cjs file), not from the
    // current directory or a node_modules that may not exist where the program is copied.
    b.onResolve({ filter: new RegExp(`^${NATIVE}$`) }, () => ({ path: NATIVE, namespace: 'native-beside' }));
    b.onLoad({ filter: /.*/, namespace: 'native-beside' }, () => ({
      contents: `const { join } = require('node:path');\nconst load = require;\nmodule.exports = load(join(__dirname, '..', 'lib', 'node_modules', ${JSON.stringify(NATIVE)}));\n`,
      loader: 'js',
    }));
    // ssh2's optional native helpers (its sshcrypto binding, cpu-features) are each
    // required inside try/catch, with pure-JavaScript fallbacks: built without them, the
    // require throws and ssh2 takes the fallback, as on a machine where they did not compile.
    b.onResolve({ filter: /\.node$|^cpu-features$/ }, (a) => ({ path: a.path, namespace: 'optional-native' }));
    b.onLoad({ filter: /.*/, namespace: 'optional-native' }, (a) => ({
      contents: `throw new Error(${JSON.stringify(`optional native module ${a.path} is not part of the hawatch build`)});\n`,
      loader: 'js',
    }));
  },
};

for (const [bin, src] of [['hawatch-agent', 'agent/main.ts'], ['hawatch-server', 'server/main.ts'], ['hawatch-query', 'server/query-bin.ts']]) {
  if (!(await exists(join(root, src)))) continue;
  const outfile = join(outDir, `${bin}.cjs`);
  const result = await build({
    ...common,
    entryPoints: [join(root, src)],
    outfile,
    plugins: [nativeBeside],
    metafile: true,
    // ESM dependencies (node-cron) use import.meta.url, which is empty in a CJS bundle:
    // give them the bundle's own URL, which is where their code now lives.
    banner: { js: `${common.banner.js}\nvar __hawatch_import_meta_url = require('node:url').pathToFileURL(__filename).href;` },
    define: { ...common.define, 'import.meta.url': '__hawatch_import_meta_url' },
  });
  for (const input of Object.keys(result.metafile.inputs)) {
    const dir = packageDirOf(input);
    if (dir) thirdParty.set(join(root, dir), dir.replace(/^.*node_modules\//, ''));
  }
  await chmod(outfile, 0o755);
  if (pkg.bin?.[bin] !== `dist/bin/${bin}.cjs`) problems.push(`package.json "bin" lacks "${bin}": "dist/bin/${bin}.cjs"`);
}

// Files the server sends to browsers (uPlot, the service view's charts): carried beside the
// server like the native module and read at run time (server/http/assets.ts), so the page
// loads them from the server itself (strict CSP, no CDN).
const STATIC_FILES = { uplot: ['package.json', 'LICENSE', 'dist/uPlot.iife.min.js', 'dist/uPlot.min.css'] };

const nodeModules = join(root, 'node_modules');
const libDir = join(root, 'dist', 'lib', 'node_modules');
for (const [name, files] of Object.entries({ ...NATIVE_FILES, ...STATIC_FILES })) {
  for (const f of files) {
    const from = join(nodeModules, name, f);
    if (!(await exists(from))) {
      problems.push(`${from} is missing: run npm ci${name in NATIVE_FILES ? ` (it builds ${NATIVE})` : ""}`);
      continue;
    }
    await cp(from, join(libDir, name, f), { recursive: true });
  }
  thirdParty.set(join(nodeModules, name), name);
}

const licenceText = async (dir) => {
  const names = (await readdir(dir)).filter((f) => /^(licen[cs]e|copying)/i.test(f)).sort();
  if (names.length) return readFile(join(dir, names[0]), 'utf8');
  const meta = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
  return `License: ${meta.license ?? 'not stated'} (no licence file in the package)\n`;
};
const sections = [];
const seen = new Set();
for (const [dir, name] of [...thirdParty].sort((a, b) => a[1].localeCompare(b[1]))) {
  const meta = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
  if (seen.has(`${name}@${meta.version}`)) continue; // the same version nested twice
  seen.add(`${name}@${meta.version}`);
  sections.push(`${name} ${meta.version} (${meta.license ?? 'licence not stated'})\n\n${(await licenceText(dir)).trim()}\n`);
}
await writeFile(
  join(root, 'dist', 'THIRD-PARTY-LICENSES'),
  `Third-party packages included in the hawatch programs in this directory (bundled into\ndist/bin/*.cjs or carried in dist/lib/node_modules), with their licences.\n\n${sections.join(`\n${'-'.repeat(72)}\n\n`)}`,
);

if (problems.length) {
  console.error(`build: ${problems.join('; ')}`);
  process.exit(1);
}
console.log(`build: ${plugins.length} plugins${plugins.length ? ` (${plugins.map((p) => `check_ha_${p}`).join(', ')})` : ''} in dist/bin`);
