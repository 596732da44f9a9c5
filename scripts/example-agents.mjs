#!/usr/bin/env node
// Regenerates the agent configuration of every node role of every example inventory:
// examples/<name>/agent/<role>.cfg, whose first line names the role's hosts
// ("# role lb: lb1 lb2"). The body is what `hawatch-server export agent` writes for the
// first of them; test/server/export-examples.test.ts fails when a file is out of date or
// when the other hosts of the role would need other lines.
// Usage: npm run build && node scripts/example-agents.mjs [--admin ADDRESS]
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const server = join(root, 'dist/bin/hawatch-server.cjs');
if (!existsSync(server)) {
  console.error('example-agents: dist/bin/hawatch-server.cjs is missing: run npm run build first');
  process.exit(1);
}

export function roleHeader(text) {
  const m = /^# role ([a-z0-9-]+): ([^\n]+)\n/.exec(text);
  if (!m) return null;
  return { role: m[1], hosts: m[2].trim().split(/\s+/) };
}

for (const ex of readdirSync(join(root, 'examples'))) {
  const dir = join(root, 'examples', ex, 'agent');
  if (!existsSync(dir)) continue;
  const inventory = join('examples', ex, 'inventory.yaml');
  const admin = /^# admin node: (\S+)$/m.exec(readFileSync(join(root, inventory), 'utf8'))?.[1] ?? '192.0.2.5';
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.cfg'))) {
    const file = join(dir, f);
    const head = roleHeader(readFileSync(file, 'utf8'));
    if (!head) {
      console.error(`example-agents: ${file} does not start with "# role NAME: HOST ..."`);
      process.exit(1);
    }
    const body = execFileSync(process.execPath, [server, 'export', 'agent', '--config', inventory, '--host', head.hosts[0], '--allowed-hosts', admin], { cwd: root, encoding: 'utf8' });
    writeFileSync(file, `# role ${head.role}: ${head.hosts.join(' ')}\n# The same file on each of them (hawatch-server export agent --host ${head.hosts[0]} made it).\n${body}`);
    console.log(`${file}: ${head.hosts.join(', ')}`);
  }
}
