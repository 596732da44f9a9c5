// Issue 11 "done when": every example inventory (the one the hawatch-server package installs,
// and each under examples/) validates, exports to a Nagios configuration nagios4 -v accepts
// and an Icinga 2 one icinga2 daemon -C accepts, and to agent configurations, one per NRPE
// host, that the real hawatch-agent loads (--check-config).
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../../server/cli/cli.ts';
import { createExecutor } from '../../server/executors/index.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { AGENT_BIN } from '../agent/helpers.ts';
import { binPath, runProgram } from '../support/bin.ts';
import { ROOT } from '../support/paths.ts';
import { requireRoot } from '../support/require.ts';
// @ts-expect-error: a plain .mjs script without types
import { roleConfig } from '../../scripts/example-agents.mjs';
import { removeDir, tempDir } from '../support/tmp.ts';
import { icingaValidate, nagiosVerify } from './export-helpers.ts';

const dir = tempDir('hawatch-examples-', { mode: 0o755 });
afterAll(() => removeDir(dir));

function yamlFiles(d: string): string[] {
  if (!existsSync(d)) return [];
  return readdirSync(d).flatMap((f) => {
    const p = join(d, f);
    return statSync(p).isDirectory() ? yamlFiles(p) : /\.ya?ml$/.test(f) ? [p] : [];
  });
}

/** Inventories are the examples' inventory.yaml files (their folders hold firewall policies too). */
const inventories = [join(ROOT, 'packaging/server/inventory.yaml'), ...yamlFiles(join(ROOT, 'examples')).filter((f) => f.endsWith('/inventory.yaml'))];

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await cli(argv, { out: (s) => (out += s), err: (s) => (err += s), script: join(ROOT, 'dist/bin/hawatch-server.cjs'), executorFactory: async () => createExecutor });
  return { code, out, err };
}

describe.each(inventories.map((f) => [relative(ROOT, f), f]))('%s', (_name, file) => {
  it('validates and exports to Nagios and Icinga 2 configurations the real daemons accept', async () => {
    const check = await run(['check', '--config', file]);
    expect(check.code, check.err).toBe(0);
    const nagios = await run(['export', 'nagios', '--config', file]);
    expect(nagios.code, nagios.err).toBe(0);
    const nv = nagiosVerify(dir, nagios.out);
    expect(nv.status, nv.out).toBe(0);
    expect(nv.out).toMatch(/Total Errors:\s+0/);
    const icinga = await run(['export', 'icinga2', '--config', file]);
    expect(icinga.code, icinga.err).toBe(0);
    const iv = icingaValidate(dir, icinga.out);
    expect(iv.status, iv.out).toBe(0);
  }, 60_000);

  it('exports an agent configuration per NRPE host that the real hawatch-agent loads', async () => {
    binPath('hawatch-agent');
    const inv = loadInventory(readFileSync(file, 'utf8'), file);
    const nrpeHosts = [...inv.hosts.values()].filter((h) => !h.virtual && h.transport.kind === 'nrpe');
    for (const h of nrpeHosts) {
      const r = await run(['export', 'agent', '--config', file, '--host', h.name, '--allowed-hosts', '192.0.2.5']);
      expect(r.code, r.err).toBe(0);
      const cfg = join(dir, `${h.name}.cfg`);
      writeFileSync(cfg, r.out);
      chmodSync(cfg, 0o644);
      const c = await runProgram(process.execPath, [AGENT_BIN, '--check-config', '-c', cfg], { timeoutMs: 20_000 });
      expect({ host: h.name, code: c.code, stderr: c.stderr }).toEqual({ host: h.name, code: 0, stderr: '' });
      expect(c.stdout).toMatch(/: \d+ commands?, fine\n$/);
    }
  }, 60_000);
});

// Each example with node roles: examples/<name>/agent/<role>.cfg (first line "# role R: h1 h2"),
// sudoers/<role>, iptables/<role>.yaml + <role>.rules. The files are what an admin copies to
// the nodes, so they must be what the inventory needs and what the real tools accept.
const exampleDirs = existsSync(join(ROOT, 'examples')) ? readdirSync(join(ROOT, 'examples')).map((d) => join(ROOT, 'examples', d)).filter((d) => statSync(d).isDirectory()) : [];

describe('example inventories exist, one per seed topology', () => {
  it('has the four seed topologies, each with an inventory and a README', () => {
    const names = exampleDirs.map((d) => relative(join(ROOT, 'examples'), d)).sort();
    expect(names).toEqual(['heartbeat-pair', 'hosting-cluster', 'keepalived-haproxy', 'lvs-cluster']);
    for (const d of exampleDirs) {
      expect(existsSync(join(d, 'inventory.yaml')), d).toBe(true);
      expect(existsSync(join(d, 'README.md')), d).toBe(true);
    }
  });
});

describe.each(exampleDirs.filter((d) => existsSync(join(d, 'agent'))).map((d) => [relative(ROOT, d), d]))('%s node roles', (_name, d) => {
  const inventoryFile = join(d, 'inventory.yaml');
  const inv = loadInventory(readFileSync(inventoryFile, 'utf8'), inventoryFile);
  const admin = /^# admin node: (\S+)$/m.exec(readFileSync(inventoryFile, 'utf8'))?.[1];
  const roles = readdirSync(join(d, 'agent')).filter((f) => f.endsWith('.cfg')).map((f) => {
    const text = readFileSync(join(d, 'agent', f), 'utf8');
    const m = /^# role ([a-z0-9-]+): ([^\n]+)\n/.exec(text);
    return { file: join(d, 'agent', f), role: m?.[1] ?? '', hosts: m?.[2]?.trim().split(/\s+/) ?? [], text };
  });
  const settings = (cfg: string) => cfg.split('\n').filter((l) => l !== '' && !l.startsWith('#')).join('\n');

  it('every NRPE host has exactly one role, named in the inventory header', () => {
    expect(admin, 'the inventory names its admin node: # admin node: ADDRESS').toMatch(/^[0-9.]+$/);
    const nrpe = [...inv.hosts.values()].filter((h) => !h.virtual && h.transport.kind === 'nrpe').map((h) => h.name).sort();
    expect(roles.every((r) => r.role !== ''), 'each agent/*.cfg starts with # role NAME: HOSTS').toBe(true);
    expect(roles.flatMap((r) => r.hosts).sort()).toEqual(nrpe);
  });

  it('each role file serves every one of its hosts (what export agent gives each, merged; else: node scripts/example-agents.mjs), and the real agent loads it', async () => {
    for (const r of roles) {
      // Up to date: what the script makes now from the inventory.
      expect({ file: r.file, text: r.text }).toEqual({ file: r.file, text: roleConfig(relative(ROOT, inventoryFile), r.role, r.hosts, admin ?? '') });
      const lines = settings(r.text).split('\n');
      for (const h of r.hosts) {
        const out = await run(['export', 'agent', '--config', inventoryFile, '--host', h, '--allowed-hosts', admin ?? '']);
        expect(out.code, out.err).toBe(0);
        expect(out.err, `${h}: export warnings`).toBe('');
        // Every command line this host needs is in the file, as it is; the other settings are the host's own.
        const need = settings(out.out).split('\n');
        expect({ host: h, missing: need.filter((l) => l.startsWith('command[') && !lines.includes(l)) }).toEqual({ host: h, missing: [] });
        expect({ host: h, settings: lines.filter((l) => !l.startsWith('command[') && !l.startsWith('command_timeout=')) }).toEqual({ host: h, settings: need.filter((l) => !l.startsWith('command[') && !l.startsWith('command_timeout=')) });
        const t = (ls: string[]) => Number(ls.find((l) => l.startsWith('command_timeout='))?.split('=')[1]);
        expect(t(lines)).toBeGreaterThanOrEqual(t(need));
      }
      const cfg = join(dir, `role-${r.role}.cfg`);
      writeFileSync(cfg, r.text);
      chmodSync(cfg, 0o644);
      const c = await runProgram(process.execPath, [AGENT_BIN, '--check-config', '-c', cfg], { timeoutMs: 20_000 });
      expect({ role: r.role, code: c.code, stderr: c.stderr }).toEqual({ role: r.role, code: 0, stderr: '' });
    }
  }, 90_000);

  it('each role has sudoers rules that visudo accepts, with no unpinned command', () => {
    for (const r of roles) {
      const f = join(d, 'sudoers', r.role);
      expect(existsSync(f), f).toBe(true);
      const v = spawnSync('visudo', ['-c', '-f', f], { encoding: 'utf8' });
      expect({ file: f, status: v.status, out: v.stdout + v.stderr }).toMatchObject({ file: f, status: 0 });
      for (const line of readFileSync(f, 'utf8').split('\n').filter((l) => /^nagios\s/.test(l))) {
        // No bare program (any arguments) and no ALL: each command has its arguments written out.
        expect(line).not.toMatch(/NOPASSWD:\s*ALL\b|\*/);
        for (const cmd of line.replace(/^.*NOPASSWD:\s*/, '').split(/,\s*(?=\/)/)) expect(cmd.trim(), line).toMatch(/^\/\S+\s+\S/);
      }
    }
  });

  it('each role firewall policy is met by its ruleset, which the real iptables-restore loads, and a hole in it is found', async () => {
    requireRoot('the ruleset is loaded with iptables-restore in a network namespace');
    for (const r of roles) {
      const policy = join(d, 'iptables', `${r.role}.yaml`);
      const rules = join(d, 'iptables', `${r.role}.rules`);
      if (!existsSync(policy)) continue;
      const ns = `hwex${process.pid % 10000}${r.role}`;
      spawnSync('ip', ['netns', 'del', ns]);
      try {
        expect(spawnSync('ip', ['netns', 'add', ns]).status).toBe(0);
        const restore = spawnSync('ip', ['netns', 'exec', ns, 'iptables-restore', rules], { encoding: 'utf8' });
        expect({ rules, status: restore.status, err: restore.stderr }).toEqual({ rules, status: 0, err: '' });
        const live = await runProgram('ip', ['netns', 'exec', ns, process.execPath, binPath('check_ha_iptables'), '-P', policy, '--source', 'iptables'], { timeoutMs: 20_000 });
        expect({ role: r.role, code: live.code, out: live.stdout.split('\n')[0] }).toMatchObject({ role: r.role, code: 0, out: expect.stringMatching(/^FIREWALL OK - compliant/) });
        // A hole: MySQL open to the world on this node.
        spawnSync('ip', ['netns', 'exec', ns, 'iptables', '-I', 'INPUT', '1', '-p', 'tcp', '--dport', '3306', '-j', 'ACCEPT']);
        const holed = await runProgram('ip', ['netns', 'exec', ns, process.execPath, binPath('check_ha_iptables'), '-P', policy, '--source', 'iptables'], { timeoutMs: 20_000 });
        expect({ role: r.role, code: holed.code }).toEqual({ role: r.role, code: 2 });
      } finally {
        spawnSync('ip', ['netns', 'del', ns]);
      }
    }
  }, 60_000);
});
