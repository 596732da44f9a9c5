#!/usr/bin/env node
// Builds the Debian packages from the built dist/ (npm run package: build first) into
// dist/pkg/ with Debian's own dpkg-deb:
//   hawatch-plugins  check_ha_* in /usr/lib/nagios/plugins (where Nagios, Icinga and NRPE look)
//   hawatch-agent    the NRPE-compatible daemon, /etc/hawatch/agent.cfg, its unit, sudoers rules
//   hawatch-server   the server with its native SQLite module, a hardened unit, an example inventory
// The programs live in /usr/lib/hawatch/bin (the server's native module in /usr/lib/hawatch/lib,
// which it finds relative to itself). Plugins and agent are Architecture: all (JavaScript);
// the server is built for this machine's architecture and Node.js ABI (the native module).
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const here = join(root, 'packaging');
const dist = join(root, 'dist');
// --out DIR: elsewhere than dist/pkg (the packaging test builds into a temp dir).
const outArg = process.argv.indexOf('--out');
const out = outArg > 0 && process.argv[outArg + 1] ? resolve(process.argv[outArg + 1]) : join(dist, 'pkg');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const debVersion = `${pkg.version}-1`;
const MAINTAINER = 'hawatch maintainers <hawatch@example.org>';
const HOMEPAGE = 'https://github.com/hawatch/hawatch';
const NODE_DEPENDS = 'nodejs (>= 20)';

function fail(message) {
  console.error(`package: ${message}`);
  process.exit(1);
}
if (!existsSync(join(dist, 'bin', 'hawatch-server.cjs'))) fail('dist/ is not built: run npm run build (npm run package does)');
for (const tool of ['dpkg-deb', 'dpkg']) {
  try {
    execFileSync(tool, ['--version'], { stdio: 'ignore' });
  } catch {
    fail(`${tool} is missing: install the Debian package dpkg`);
  }
}
const arch = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();

// A fixed date for reproducible packages: the last commit's, else now.
let when;
try {
  when = new Date(Number(execFileSync('git', ['-C', root, 'log', '-1', '--format=%ct'], { encoding: 'utf8' }).trim()) * 1000);
} catch {
  when = new Date();
}
const rfc2822 = when.toUTCString().replace(/GMT$/, '+0000');

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

/** Writes a file under the staging root, with its mode. */
function put(stage, path, content, mode = 0o644) {
  const file = join(stage, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
  chmodSync(file, mode);
}

/** A bundle with #!/usr/bin/node (Debian's node; env lookups are not for packaged scripts). */
function script(from) {
  const text = readFileSync(from, 'utf8');
  if (!text.startsWith('#!/usr/bin/env node\n')) fail(`${from} does not start with #!/usr/bin/env node`);
  return `#!/usr/bin/node\n${text.slice('#!/usr/bin/env node\n'.length)}`;
}

/** Replaces `from` in a text and fails when it is not there (the source changed under us). */
function replaceOrFail(text, from, to, what) {
  if (!text.includes(from)) fail(`${what}: '${from}' not found; update packaging/build-deb.mjs`);
  return text.split(from).join(to);
}

// Licence texts Debian ships in /usr/share/common-licenses are referred to, not repeated (policy 12.5).
const SEPARATOR = `\n${'-'.repeat(72)}\n\n`;
const thirdParty = readFileSync(join(dist, 'THIRD-PARTY-LICENSES'), 'utf8')
  .split(SEPARATOR)
  .map((section) => {
    const head = section.split('\n')[0];
    return /\(Apache-2\.0\)$/.test(head) ? `${head}\n\nOn Debian systems the full text of the Apache License 2.0 is in /usr/share/common-licenses/Apache-2.0.\n` : section;
  })
  .join(SEPARATOR);
const license = readFileSync(join(root, 'LICENSE'), 'utf8');
function docs(stage, name, extra = {}) {
  const doc = `usr/share/doc/${name}`;
  put(stage, `${doc}/copyright`, `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: hawatch
Source: ${HOMEPAGE}

Files: *
Copyright: 2026 the hawatch authors
License: Expat

License: Expat
${license.replace(/^MIT License\n\n(Copyright.*\n\n)?/, '').trim().split('\n').map((l) => (l.trim() === '' ? ' .' : ` ${l}`)).join('\n')}

Comment: the programs bundle the JavaScript packages listed below (and ${name === 'hawatch-server' ? 'carry better-sqlite3, bindings, file-uri-to-path and the uPlot chart files in /usr/lib/hawatch/lib' : 'nothing else'}), each under its own licence, quoted in full:
${thirdParty.split('\n').map((l) => (l.trim() === '' ? ' .' : ` ${l}`)).join('\n')}
`);
  const changelog = `${name} (${debVersion}) unstable; urgency=medium

  * Upstream release ${pkg.version}; see /usr/share/doc/${name}/changelog.gz.

 -- ${MAINTAINER}  ${rfc2822}
`;
  put(stage, `${doc}/changelog.Debian.gz`, gzipSync(changelog, { level: 9 }));
  put(stage, `${doc}/changelog.gz`, gzipSync(readFileSync(join(root, 'CHANGELOG.md')), { level: 9 }));
  for (const [to, from] of Object.entries(extra)) put(stage, `${doc}/${to}`, readFileSync(from));
}

/** Sizes, md5sums, control file, maintainer scripts; then dpkg-deb. Returns the .deb path. */
function finish(stage, control, scripts = {}, conffiles = [], overrides = []) {
  overrides = [...COMMON_OVERRIDES, ...overrides];
  if (overrides.length) put(stage, `usr/share/lintian/overrides/${control.Package}`, overrides.map((o) => `${o}\n`).join(''));
  const files = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) files.push(p);
    }
  };
  walk(stage);
  let bytes = 0;
  const md5 = [];
  for (const f of files.sort()) {
    const data = readFileSync(f);
    bytes += data.length;
    md5.push(`${createHash('md5').update(data).digest('hex')}  ${relative(stage, f)}`);
  }
  // Extended description lines of at most 80 columns (policy 5.6.13), paragraphs kept.
  const [synopsis, ...body] = control.Description.split('\n');
  const words = body.map((l) => l.trim()).join(' ').split(/\s+/);
  const lines = [];
  for (const w of words) {
    if (lines.length && `${lines[lines.length - 1]} ${w}`.length <= 79) lines[lines.length - 1] += ` ${w}`;
    else lines.push(w);
  }
  control = { ...control, Description: [synopsis, ...lines.map((l) => ` ${l}`)].join('\n') };
  const fields = {
    Package: control.Package,
    Version: debVersion,
    Architecture: control.Architecture,
    Maintainer: MAINTAINER,
    'Installed-Size': String(Math.ceil(bytes / 1024)),
    ...Object.fromEntries(Object.entries(control).filter(([k]) => !['Package', 'Architecture', 'Description'].includes(k))),
    Section: control.Section ?? 'net',
    Priority: 'optional',
    Homepage: HOMEPAGE,
    Description: control.Description,
  };
  put(stage, 'DEBIAN/control', Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join('\n') + '\n');
  put(stage, 'DEBIAN/md5sums', md5.join('\n') + '\n');
  if (conffiles.length) put(stage, 'DEBIAN/conffiles', conffiles.map((c) => `/${c}`).join('\n') + '\n');
  for (const [name, from] of Object.entries(scripts)) put(stage, `DEBIAN/${name}`, readFileSync(from), 0o755);
  const deb = join(out, `${control.Package}_${debVersion}_${control.Architecture}.deb`);
  // SOURCE_DATE_EPOCH: file times clamped to the commit's, so that the same tree gives the same package.
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', stage, deb], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, SOURCE_DATE_EPOCH: String(Math.floor(when.getTime() / 1000)) } });
  return deb;
}

// Each lintian override says why (lintian prints the comment with --show-overrides).
const COMMON_OVERRIDES = [
  '# Built by npm run package for local installation, not uploaded to Debian: there is no ITP bug to close.',
  'initial-upload-closes-no-bugs',
];
const stages = join(out, 'build');
const built = [];

// --- hawatch-plugins ---------------------------------------------------------------------
{
  const stage = join(stages, 'hawatch-plugins');
  const plugins = readdirSync(join(dist, 'bin')).filter((f) => /^check_ha_\w+\.cjs$/.test(f)).sort();
  for (const f of plugins) put(stage, `usr/lib/nagios/plugins/${f.replace(/\.cjs$/, '')}`, script(join(dist, 'bin', f)), 0o755);
  const readmes = {};
  for (const d of readdirSync(join(root, 'plugins'))) {
    if (existsSync(join(root, 'plugins', d, 'README.md'))) readmes[`${d}.md`] = join(root, 'plugins', d, 'README.md');
  }
  docs(stage, 'hawatch-plugins', readmes);
  built.push(finish(stage, {
    Package: 'hawatch-plugins',
    Architecture: 'all',
    Depends: NODE_DEPENDS,
    Suggests: 'hawatch-agent, sudo',
    Enhances: 'nagios4, icinga2, nagios-nrpe-server',
    Description: `Nagios check plugins for Linux high-availability clusters
 The hawatch check_ha_* plugins in /usr/lib/nagios/plugins: ${plugins.map((f) => f.replace(/\.cjs$/, '')).join(', ')}.
 They check Pacemaker, Corosync, DRBD, keepalived, LVS, HAProxy, MySQL/Galera and
 PostgreSQL replication, floating IPs and iptables policies, and print Nagios
 plugin output (status line, long output, perfdata) for Nagios, Icinga and NRPE.`,
  }));
}

// --- hawatch-agent -----------------------------------------------------------------------
{
  const stage = join(stages, 'hawatch-agent');
  put(stage, 'usr/lib/hawatch/bin/hawatch-agent.cjs', script(join(dist, 'bin', 'hawatch-agent.cjs')), 0o755);
  mkdirSync(join(stage, 'usr/sbin'), { recursive: true });
  symlinkSync('../lib/hawatch/bin/hawatch-agent.cjs', join(stage, 'usr/sbin/hawatch-agent'));
  let unit = readFileSync(join(root, 'agent', 'hawatch-agent.service'), 'utf8');
  unit = replaceOrFail(unit, '/usr/local/lib/node_modules/hawatch/dist/bin/hawatch-agent.cjs', '/usr/lib/hawatch/bin/hawatch-agent.cjs', 'agent/hawatch-agent.service');
  unit = unit.replace(/^# \/etc\/systemd\/system\/hawatch-agent\.service.*\n(# .*\n)?/, '');
  unit = unit.replace(/^Documentation=.*$/m, 'Documentation=file:///usr/share/doc/hawatch-agent/README.agent.md');
  put(stage, 'lib/systemd/system/hawatch-agent.service', unit);
  let cfg = readFileSync(join(root, 'agent', 'agent.cfg.sample'), 'utf8');
  cfg = replaceOrFail(cfg, '/usr/local/bin/check_ha_', '/usr/lib/nagios/plugins/check_ha_', 'agent/agent.cfg.sample');
  put(stage, 'etc/hawatch/agent.cfg', cfg);
  put(stage, 'etc/logrotate.d/hawatch-agent', readFileSync(join(here, 'agent', 'logrotate')));
  // Not a conffile in /etc/sudoers.d: postinst puts it there after visudo -c accepts it.
  put(stage, 'usr/share/hawatch-agent/sudoers', readFileSync(join(root, 'agent', 'sudoers.sample')));
  docs(stage, 'hawatch-agent', { 'README.agent.md': join(root, 'agent', 'README.md') });
  built.push(finish(stage, {
    Package: 'hawatch-agent',
    Architecture: 'all',
    Depends: `${NODE_DEPENDS}, adduser`,
    Recommends: 'sudo, hawatch-plugins',
    Suggests: 'nagios-nrpe-plugin',
    Description: `NRPE-compatible monitoring agent for Linux high-availability clusters
 hawatch-agent answers the stock check_nrpe (NRPE v2/v3/v4, anonymous DH, certificate
 and plain TCP modes) from an nrpe.cfg-style configuration in /etc/hawatch/agent.cfg.
 The hawatch check_ha_* checks run inside the agent without a fork; other plugins run
 as child processes without a shell. It runs as the nagios user under a hardened
 systemd unit; sudoers rules for the checks that need root are installed after
 visudo accepts them.`,
  }, { postinst: join(here, 'agent', 'postinst'), prerm: join(here, 'agent', 'prerm'), postrm: join(here, 'agent', 'postrm') }, ['etc/hawatch/agent.cfg', 'etc/logrotate.d/hawatch-agent'], [
    '# hawatch-agent --help is the reference; /usr/share/doc/hawatch-agent/README.agent.md the manual. No man page yet.',
    'no-manual-page [usr/sbin/hawatch-agent]',
  ]));
}

// --- hawatch-server ----------------------------------------------------------------------
{
  const stage = join(stages, 'hawatch-server');
  put(stage, 'usr/lib/hawatch/bin/hawatch-server.cjs', script(join(dist, 'bin', 'hawatch-server.cjs')), 0o755);
  // The small program Nagios and Icinga run for the exported cluster rules (export's default).
  put(stage, 'usr/lib/hawatch/bin/hawatch-query.cjs', script(join(dist, 'bin', 'hawatch-query.cjs')), 0o755);
  cpSync(join(dist, 'lib'), join(stage, 'usr/lib/hawatch/lib'), { recursive: true });
  // Licences are in the copyright file; the native module's mode as Debian wants it (no x on a library).
  for (const f of ['better-sqlite3/LICENSE', 'bindings/LICENSE.md', 'file-uri-to-path/LICENSE', 'uplot/LICENSE']) rmSync(join(stage, 'usr/lib/hawatch/lib/node_modules', f));
  const addon = join(stage, 'usr/lib/hawatch/lib/node_modules/better-sqlite3/build/Release/better_sqlite3.node');
  chmodSync(addon, 0o644);
  // Stripped as dh_strip does for a shared object (policy 10.1).
  try {
    execFileSync('strip', ['--strip-unneeded', '--remove-section=.comment', '--remove-section=.note', addon], { stdio: 'inherit' });
  } catch {
    fail('strip failed or is missing: install binutils');
  }
  mkdirSync(join(stage, 'usr/bin'), { recursive: true });
  symlinkSync('../lib/hawatch/bin/hawatch-server.cjs', join(stage, 'usr/bin/hawatch-server'));
  symlinkSync('../lib/hawatch/bin/hawatch-query.cjs', join(stage, 'usr/bin/hawatch-query'));
  put(stage, 'lib/systemd/system/hawatch-server.service', readFileSync(join(here, 'server', 'hawatch-server.service')));
  put(stage, 'etc/hawatch/inventory.yaml', readFileSync(join(here, 'server', 'inventory.yaml')));
  // The example inventories (one per seed topology, with per-role agent, sudoers and
  // firewall files), where Debian keeps examples.
  const examples = {};
  const walkExamples = (d, rel) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walkExamples(join(d, e.name), `${rel}/${e.name}`);
      else if (e.isFile()) examples[`${rel}/${e.name}`] = join(d, e.name);
    }
  };
  walkExamples(join(root, 'examples'), 'examples');
  docs(stage, 'hawatch-server', { 'README.server.md': join(root, 'server', 'README.md'), ...examples });
  const abi = process.versions.modules;
  const major = Number(process.versions.node.split('.')[0]);
  // The libraries the native module links (dpkg-shlibdeps, as debhelper would run it).
  let shlibs = 'libc6, libstdc++6';
  try {
    const tmp = join(out, 'shlibs');
    mkdirSync(join(tmp, 'debian'), { recursive: true });
    writeFileSync(join(tmp, 'debian', 'control'), 'Source: hawatch\n\nPackage: hawatch-server\nArchitecture: any\n');
    const r = execFileSync('dpkg-shlibdeps', ['-O', '-e', join(stage, 'usr/lib/hawatch/lib/node_modules/better-sqlite3/build/Release/better_sqlite3.node')], { cwd: tmp, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    shlibs = /shlibs:Depends=(.*)/.exec(r)?.[1] ?? shlibs;
    rmSync(tmp, { recursive: true, force: true });
  } catch {
    console.error('package: dpkg-shlibdeps (dpkg-dev) is missing: hawatch-server gets the unversioned Depends libc6, libstdc++6');
  }
  built.push(finish(stage, {
    Package: 'hawatch-server',
    Architecture: arch,
    // The native module is built for this Node.js ABI (one major version): another cannot load it.
    // Debian's nodejs also provides nodejs-abi-${abi}, but other builds (nodesource) do not.
    Depends: `${NODE_DEPENDS}, nodejs (<< ${major + 1}), adduser, ${shlibs}`,
    Recommends: 'hawatch-plugins',
    Suggests: 'default-mta | mail-transport-agent',
    Description: `admin-node server for hawatch cluster monitoring
 hawatch-server schedules NRPE, SSH and local checks with Nagios soft/hard states,
 retries, flapping, acknowledgements, downtime, freshness and cluster rules; keeps its
 state in SQLite with a transactional notification outbox; sends email and SMS; serves
 a REST API with OpenAPI, Prometheus metrics and a live status page. It runs as its own
 user under a hardened systemd unit; the inventory is /etc/hawatch/inventory.yaml.
 Its SQLite module is built for Node.js ABI ${abi} (Node.js ${process.versions.node.split('.')[0]}).`,
  }, { postinst: join(here, 'server', 'postinst'), prerm: join(here, 'server', 'prerm'), postrm: join(here, 'server', 'postrm') }, ['etc/hawatch/inventory.yaml'], [
    '# hawatch-server --help is the reference; /usr/share/doc/hawatch-server/README.server.md the manual. No man page yet.',
    'no-manual-page [usr/bin/hawatch-server]',
    'no-manual-page [usr/bin/hawatch-query]',
  ]));
}

rmSync(stages, { recursive: true, force: true });
for (const deb of built) console.log(`package: ${relative(root, deb)} (${(statSync(deb).size / 1024).toFixed(0)} KiB)`);
