/**
 * The hawatch-server subcommands that do not run the server: export (nagios, icinga2,
 * agent), test-host and query. Kept apart from cli.ts, which only routes to them.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { plainText } from '../core/text.ts';
import type { ExecutorFactory } from '../executors/types.ts';
import { InventoryError } from '../inventory/load.ts';
import type { Inventory } from '../inventory/types.ts';
import { DEFAULT_PLUGIN_DIR, type ExportSettings } from './export-common.ts';

export const USAGE = 'usage: hawatch-server [--config FILE] [--listen HOST:PORT] [--data FILE] [--log-level LEVEL] | check [--strict] | export nagios|icinga2|agent | test-host NAME | query --url URL --key KEY | migrate | demo-check NAME (--help for more)';

export const SUBCOMMAND_HELP = `  hawatch-server export nagios [--config FILE] [--output FILE] [--rules query|passive]
                             [--server-url URL] [--server-command PATH] [--query-command PATH]
                             [--plugin-dir DIR]
                                             Nagios 4 object configuration of the inventory;
                                             the cluster rules run --query-command (default
                                             /usr/bin/hawatch-query, the small program; the
                                             --server-command when only that one is given)
  hawatch-server export icinga2 [same options] Icinga 2 objects (needs include <itl>)
  hawatch-server export agent --host NAME [--allowed-hosts ADDR,...] [--output FILE]
                                             the hawatch-agent configuration of one NRPE node
  hawatch-server test-host NAME [--config FILE]
                                             connect to one host as the scheduler does and
                                             say what works (TLS, allowed_hosts, each check)
  hawatch-server query --url URL --key HOST/SERVICE [-t SECONDS]
                                             a Nagios plugin: the state of one object of a
                                             running hawatch server (cluster rules in Nagios)
`;

export interface SubcommandIo {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
  readonly executorFactory: () => Promise<ExecutorFactory>;
  readonly script: string;
  readonly readInventory: (config: string | undefined) => Promise<Inventory>;
}

const SUBCOMMANDS = new Set(['export', 'test-host', 'query']);

export function isSubcommand(argv: readonly string[]): boolean {
  return argv[0] !== undefined && SUBCOMMANDS.has(argv[0]);
}

/** node:util parseArgs' messages, in the words of this usage line (its own advice about `--` does not apply here). */
export function argumentError(e: Error): string {
  const unknown = /Unknown option '([^']+)'/.exec(e.message);
  if (unknown) return `unknown option ${unknown[1]}`;
  const missing = /Option '([^']+)' argument missing/.exec(e.message);
  if (missing) return `option ${(missing[1] ?? '').replace(/^-., /, '').replace(/ <value>$/, '')} needs a value`;
  return e.message.replace(/'/g, '');
}

function bad(io: SubcommandIo, message: string): number {
  io.err(`hawatch-server: ${message}\n${USAGE}\n`);
  return 2;
}

/** The inventory, or the exit code after its problems were printed. Its warnings are `check`'s business. */
async function inventoryOr(io: SubcommandIo, config: string | undefined): Promise<Inventory | number> {
  try {
    return await io.readInventory(config);
  } catch (e) {
    if (e instanceof InventoryError) {
      io.err(`${e.problems.join('\n')}\nhawatch-server: ${e.problems.length} problem${e.problems.length === 1 ? '' : 's'} in ${config ?? 'the embedded inventory'}\n`);
      return 1;
    }
    io.err(`hawatch-server: ${(e as Error).message}\n`);
    return 2;
  }
}

export async function runSubcommand(argv: readonly string[], io: SubcommandIo): Promise<number> {
  const command = argv[0];
  let parsed;
  try {
    parsed = parseArgs({
      args: argv.slice(1) as string[],
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        output: { type: 'string', short: 'o' },
        rules: { type: 'string' },
        'server-url': { type: 'string' },
        'server-command': { type: 'string' },
        'query-command': { type: 'string' },
        'plugin-dir': { type: 'string' },
        host: { type: 'string', short: 'H' },
        'allowed-hosts': { type: 'string' },
        url: { type: 'string' },
        key: { type: 'string', short: 'k' },
        timeout: { type: 'string', short: 't' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    return bad(io, argumentError(e as Error));
  }
  const v = parsed.values;
  const pos = parsed.positionals;
  if (v.help) {
    io.out(`Usage:\n${SUBCOMMAND_HELP}`);
    return 0;
  }
  const write = (text: string): number => {
    if (v.output === undefined || v.output === '-') io.out(text);
    else {
      try {
        writeFileSync(v.output, text);
      } catch (e) {
        io.err(`hawatch-server: cannot write ${v.output}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
        return 1;
      }
    }
    return 0;
  };

  if (command === 'query') {
    if (v.url === undefined || v.key === undefined) return bad(io, 'query needs --url URL and --key HOST/SERVICE');
    const { query } = await import('./query.ts');
    const r = await query(v.url, v.key, Number(v.timeout ?? 10));
    io.out(r.text);
    return r.code;
  }

  if (command === 'test-host') {
    const name = pos[0] ?? v.host;
    if (name === undefined) return bad(io, 'test-host needs the name of a host');
    const inv = await inventoryOr(io, v.config);
    if (typeof inv === 'number') return inv;
    const { testHost } = await import('./test-host.ts');
    const macros = runtimeMacros(io.script);
    const r = await testHost(inv, name, await io.executorFactory(), macros);
    io.out(`${r.lines.join('\n')}\n`);
    return r.ok ? 0 : 1;
  }

  // export
  const what = pos[0];
  if (what !== 'nagios' && what !== 'icinga2' && what !== 'agent') return bad(io, `export needs what to write: nagios, icinga2 or agent${what ? `, not ${what}` : ''}`);
  const rules = v.rules ?? 'query';
  if (rules !== 'query' && rules !== 'passive') return bad(io, `--rules must be query or passive, not ${rules}`);
  const inv = await inventoryOr(io, v.config);
  if (typeof inv === 'number') return inv;
  const settings: ExportSettings = {
    rules,
    serverUrl: v['server-url'] ?? `http://${inv.server.listenHost.includes(':') ? `[${inv.server.listenHost}]` : inv.server.listenHost === '0.0.0.0' ? '127.0.0.1' : inv.server.listenHost}:${inv.server.listenPort}`,
    serverCommand: v['server-command'] ?? '/usr/bin/hawatch-server',
    // hawatch-query parses 4 KB where hawatch-server parses its whole bundle (0.2 against 0.6 s
    // of CPU per run, every rule, every interval); a --server-command alone keeps its meaning.
    queryCommand: v['query-command'] ?? (v['server-command'] !== undefined ? v['server-command'] : '/usr/bin/hawatch-query'),
    pluginDir: v['plugin-dir'] ?? inv.server.macros.USER1 ?? DEFAULT_PLUGIN_DIR,
  };
  try {
    if (what === 'nagios') {
      const { exportNagios } = await import('./export-nagios.ts');
      return write(exportNagios(inv, settings).text);
    }
    if (what === 'icinga2') {
      const { exportIcinga2 } = await import('./export-icinga2.ts');
      return write(exportIcinga2(inv, settings));
    }
    const host = pos[1] ?? v.host;
    if (host === undefined) return bad(io, 'export agent needs --host NAME (an NRPE host of the inventory)');
    const allowed = (v['allowed-hosts'] ?? '127.0.0.1,::1').split(',').map((x) => x.trim()).filter(Boolean);
    if (v['allowed-hosts'] === undefined) io.err('warning: allowed_hosts is 127.0.0.1,::1 only: give the admin node with --allowed-hosts ADDRESS\n');
    const { exportAgent } = await import('./export-agent.ts');
    const r = exportAgent(inv, { host, allowedHosts: allowed, pluginDir: v['plugin-dir'], serverCommand: settings.serverCommand });
    for (const w of r.warnings) io.err(`warning: ${w}\n`);
    return write(r.text);
  } catch (e) {
    io.err(`hawatch-server: cannot export ${what}: ${plainText((e as Error).message)}\n`);
    return 1;
  }
}

export function runtimeMacros(script: string): Record<string, string> {
  return { NODE: process.execPath, HAWATCH_SERVER: script, HAWATCH_BIN: script.includes('/') ? script.slice(0, script.lastIndexOf('/')) : '.' };
}
