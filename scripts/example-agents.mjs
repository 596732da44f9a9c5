#!/usr/bin/env node
// Regenerates the agent configuration of every node role of every example inventory:
// examples/<name>/agent/<role>.cfg, whose first line names the role's hosts
// ("# role lb: lb1 lb2"). One file serves every host of the role: its commands are the union
// of what `hawatch-server export agent` gives for each of them (a check that runs on one
// node only, such as the gluster check, is defined on all so it can move), its
// command_timeout the largest. test/server/export-examples.test.ts fails when a file is out
// of date, or when two hosts of a role would need different lines for one command.
// Usage: npm run build && node scripts/example-agents.mjs
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const server = join(root, 'dist/bin/hawatch-server.cjs');

export function roleHeader(text) {
  const m = /^# role ([a-z0-9-]+): ([^\n]+)\n/.exec(text);
  return m ? { role: m[1], hosts: m[2].trim().split(/\s+/) } : null;
}

export function adminOf(inventoryText) {
  return /^# admin node: (\S+)$/m.exec(inventoryText)?.[1] ?? '192.0.2.5';
}

/** The export of one host, as its header comments and its settings/command lines. */
export function exportHost(inventory, host, admin) {
  const text = execFileSync(process.execPath, [server, 'export', 'agent', '--config', inventory, '--host', host, '--allowed-hosts', admin], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = text.split('\n').filter((l) => l !== '');
  return { comments: lines.filter((l) => l.startsWith('#')), settings: lines.filter((l) => !l.startsWith('#') && !l.startsWith('command[')), commands: lines.filter((l) => l.startsWith('command[')) };
}

/** The role file: settings of the first host (command_timeout the largest), the union of the commands. */
export function roleConfig(inventory, role, hosts, admin) {
  const each = hosts.map((h) => ({ host: h, ...exportHost(inventory, h, admin) }));
  const commands = new Map();
  const uses = new Map();
  let timeout = 0;
  for (const e of each) {
    for (const line of e.commands) {
      const name = /^command\[([^\]]+)\]=/.exec(line)[1];
      const before = commands.get(name);
      if (before !== undefined && before !== line) throw new Error(`role ${role}: ${name} differs between ${uses.get(name)[0]} and ${e.host}: give one of them a command name of its own`);
      commands.set(name, line);
      uses.set(name, [...(uses.get(name) ?? []), e.host]);
    }
    for (const s of e.settings) if (s.startsWith('command_timeout=')) timeout = Math.max(timeout, Number(s.slice('command_timeout='.length)));
  }
  const first = each[0];
  const settings = first.settings.map((s) => (s.startsWith('command_timeout=') ? `command_timeout=${timeout}` : s));
  const who = (name) => (uses.get(name).length === hosts.length ? '' : ` (used on ${uses.get(name).join(', ')})`);
  const header = [
    `# role ${role}: ${hosts.join(' ')}`,
    `# The same file on each of them: hawatch-server export agent for each host, the commands merged (node scripts/example-agents.mjs).`,
    ...first.comments.filter((c) => !/^# (check_|hawatch-agent configuration for )/.test(c)),
    ...[...commands.keys()].map((n) => `# ${n}${who(n)}`),
  ];
  return `${header.join('\n')}\n${settings.join('\n')}\n${[...commands.values()].join('\n')}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (!existsSync(server)) {
    console.error('example-agents: dist/bin/hawatch-server.cjs is missing: run npm run build first');
    process.exit(1);
  }
  for (const ex of readdirSync(join(root, 'examples'))) {
    const dir = join(root, 'examples', ex, 'agent');
    if (!existsSync(dir)) continue;
    const inventory = join('examples', ex, 'inventory.yaml');
    const admin = adminOf(readFileSync(join(root, inventory), 'utf8'));
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.cfg'))) {
      const file = join(dir, f);
      const head = roleHeader(readFileSync(file, 'utf8'));
      if (!head) {
        console.error(`example-agents: ${file} does not start with "# role NAME: HOST ..."`);
        process.exit(1);
      }
      writeFileSync(file, roleConfig(inventory, head.role, head.hosts, admin));
      console.log(`${file}: ${head.hosts.join(', ')}`);
    }
  }
}
