// Issue 11 "done when": every example inventory (the one the hawatch-server package installs,
// and each under examples/) validates, exports to a Nagios configuration nagios4 -v accepts
// and an Icinga 2 one icinga2 daemon -C accepts, and to agent configurations, one per NRPE
// host, that the real hawatch-agent loads (--check-config).
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../../server/cli/cli.ts';
import { createExecutor } from '../../server/executors/index.ts';
import { loadInventory } from '../../server/inventory/load.ts';
import { AGENT_BIN } from '../agent/helpers.ts';
import { binPath, runProgram } from '../support/bin.ts';
import { ROOT } from '../support/paths.ts';
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

/** Inventories are the YAML files with a top-level hosts: map (examples may hold policies too). */
const inventories = [join(ROOT, 'packaging/server/inventory.yaml'), ...yamlFiles(join(ROOT, 'examples')).filter((f) => /^hosts:/m.test(readFileSync(f, 'utf8')))];

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
