/**
 * The hawatch-server command line, as a function of argv that returns an exit code
 * (process.exit only happens in main.ts).
 *
 *   hawatch-server [--config FILE] [--listen HOST:PORT] [--data FILE] [--log-level LEVEL]
 *   hawatch-server check [--config FILE] [--strict]
 *   hawatch-server export nagios|icinga2|agent ... / test-host NAME / query ... (commands.ts)
 *   hawatch-server demo-check load|disk|memory|dummy ...
 */
import { isPostgresUrl } from '../store/pg-connect.ts';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { VERSION } from '../../nagios/version.ts';
import { createRuntime, type Runtime } from '../core/runtime.ts';
import type { ExecutorFactory } from '../executors/types.ts';
import { loadApiToken } from '../http/auth.ts';
import { DEFAULT_INVENTORY } from '../inventory/default.ts';
import { InventoryError, InventoryUnreadableError, loadInventory } from '../inventory/load.ts';
import type { Inventory } from '../inventory/types.ts';
import { semanticWarnings } from './check.ts';
import { argumentError, isSubcommand, runSubcommand, runtimeMacros, SUBCOMMAND_HELP, USAGE } from './commands.ts';
import { demoCheck } from './demo-checks.ts';

export const HELP = `hawatch-server ${VERSION}: the hawatch admin-node server (scheduler, notifier, API, status page)

Usage:
  hawatch-server [--config FILE] [options]   run the server
  hawatch-server check [--config FILE] [--strict]
                                             validate the inventory; exit 1 with the problems;
                                             warns once about commands and files that are
                                             missing (--strict: exit 1 on warnings too)
${SUBCOMMAND_HELP}  hawatch-server demo-check NAME [args]      the small plugins of the embedded demo

Options:
  -c, --config FILE      inventory YAML (default: the embedded local demo inventory)
  -l, --listen HOST:PORT listen address (default: server.listen, 127.0.0.1:8080)
  -d, --data FILE        SQLite database (default: server.database, relative to the config file)
      --log-level LEVEL  fatal, error, warn, info, debug (default info)
  -h, --help             this help
  -V, --version          the version

The API token for commands comes from $HAWATCH_API_TOKEN (or server.api_token_env /
server.api_token_file). SIGHUP re-reads the inventory; SIGINT/SIGTERM stop gracefully.
`;

export interface CliIo {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
  readonly executorFactory: () => Promise<ExecutorFactory>;
  /** Path of the running server script, for $HAWATCH_SERVER$ / $HAWATCH_BIN$. */
  readonly script: string;
  /** Called once the server listens; resolves when it should stop. */
  readonly serve?: (rt: Runtime, url: string, reload: () => Promise<void>) => Promise<void>;
}

/** Reads and validates the inventory file (or the embedded one); an unreadable file is InventoryUnreadableError. */
export async function readInventory(config: string | undefined): Promise<Inventory> {
  if (config === undefined) return loadInventory(DEFAULT_INVENTORY, '(embedded default inventory)');
  let text: string;
  try {
    text = await readFile(config, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (code ?? (e as Error).message);
    throw new InventoryUnreadableError(`cannot read the inventory ${config} (${why}): put the file back or fix the path`);
  }
  return loadInventory(text, config);
}


function parse(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      listen: { type: 'string', short: 'l' },
      data: { type: 'string', short: 'd' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'V' },
      strict: { type: 'boolean' },
    },
  });
}

export async function cli(argv: string[], io: CliIo): Promise<number> {
  if (argv[0] === 'demo-check') {
    const r = await demoCheck(argv.slice(1)).catch((e: Error) => ({ exitCode: 3 as const, text: `DEMO UNKNOWN - ${e.message}\n` }));
    io.out(r.text);
    return r.exitCode;
  }
  if (isSubcommand(argv)) return runSubcommand(argv, { ...io, readInventory });
  let opts: ReturnType<typeof parse>;
  try {
    opts = parse(argv);
  } catch (e) {
    io.err(`hawatch-server: ${argumentError(e as Error)}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = opts;
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  if (values.version) {
    io.out(`hawatch-server ${VERSION}\n`);
    return 0;
  }
  const command = positionals[0] ?? 'run';
  if (command !== 'run' && command !== 'check') {
    io.err(`hawatch-server: unknown command ${command}\n${USAGE}\n`);
    return 2;
  }
  let inventory: Inventory;
  try {
    inventory = await readInventory(values.config);
  } catch (e) {
    if (e instanceof InventoryError) {
      io.err(`${e.problems.join('\n')}\nhawatch-server: ${e.problems.length} problem${e.problems.length === 1 ? '' : 's'} in ${values.config ?? 'the embedded inventory'}; nothing was started\n`);
      return 1;
    }
    io.err(`hawatch-server: ${(e as Error).message}\n`);
    return 2;
  }
  if (command === 'check') {
    // Each warning once: the YAML's own and the semantic ones (commands, files) together.
    const warnings = [...new Set([...inventory.warnings, ...semanticWarnings(inventory, { runtimeMacros: runtimeMacros(io.script) })])];
    for (const w of warnings) io.err(`warning: ${w}\n`);
    if (values.strict && warnings.length) {
      io.err(`hawatch-server: ${warnings.length} warning${warnings.length === 1 ? '' : 's'} in ${inventory.source} (--strict)\n`);
      return 1;
    }
    io.out(`${inventory.source}: OK - ${[...inventory.hosts.values()].filter((h) => !h.virtual).length} hosts, ${inventory.services.size} services, ${inventory.clusterRules.size} cluster rules, ${inventory.contacts.size} contacts, ${inventory.downtimes.length} recurring downtimes\n`);
    return 0;
  }
  for (const w of inventory.warnings) io.err(`warning: ${w}\n`);

  let listenHost = inventory.server.listenHost;
  let listenPort = inventory.server.listenPort;
  if (values.listen !== undefined) {
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(values.listen);
    if (!m || Number(m[3]) > 65535) {
      io.err(`hawatch-server: --listen must be HOST:PORT (e.g. 127.0.0.1:8080), not '${values.listen}'\n`);
      return 2;
    }
    listenHost = (m[1] ?? m[2]) as string;
    listenPort = Number(m[3]);
  }
  let database = values.data ?? inventory.server.database;
  // A postgres:// URL is not a path (it was resolved against the config directory before).
  if (database !== ':memory:' && !isPostgresUrl(database) && !isAbsolute(database) && values.data === undefined && values.config !== undefined) database = resolve(dirname(values.config), database);
  let token: () => string | null;
  try {
    const initial = loadApiToken(inventory.server.apiTokenEnv, inventory.server.apiTokenFile);
    let current = initial;
    token = () => current;
    process.on('SIGHUP', () => {
      try {
        current = loadApiToken(inventory.server.apiTokenEnv, inventory.server.apiTokenFile);
      } catch {
        /* keep the old token */
      }
    });
  } catch (e) {
    io.err(`hawatch-server: ${(e as Error).message}\n`);
    return 2;
  }
  if (token() === null) io.err(`warning: no API token (set ${inventory.server.apiTokenEnv} or server.api_token_file): acknowledgements, downtimes, re-checks and reloads are refused\n`);
  const level = values['log-level'] ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(level)) {
    io.err(`hawatch-server: --log-level must be fatal, error, warn, info or debug\n`);
    return 2;
  }
  const config = values.config;
  let rt: Runtime;
  try {
    rt = await createRuntime({
      inventory,
      executorFactory: await io.executorFactory(),
      database,
      apiToken: token,
      loadInventory: config === undefined ? null : () => readInventory(config),
      runtimeMacros: { NODE: process.execPath, HAWATCH_SERVER: io.script, HAWATCH_BIN: dirname(io.script) },
      logger: { level },
      version: VERSION,
    });
  } catch (e) {
    io.err(`hawatch-server: cannot start: ${(e as Error).message}\n`);
    return 1;
  }
  let address: string;
  try {
    address = await rt.app.listen({ host: listenHost, port: listenPort });
  } catch (e) {
    io.err(`hawatch-server: cannot listen on ${listenHost}:${listenPort}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; pick another with --listen HOST:PORT\n`);
    await rt.stop();
    return 1;
  }
  const url = `${address.replace('0.0.0.0', '127.0.0.1')}/`;
  rt.app.log.info(`hawatch-server ${VERSION} listening on ${url} with ${inventory.hosts.size} hosts, ${inventory.services.size} services (${config ?? 'embedded default inventory'})`);
  io.out(`hawatch-server: status page at ${url}\n`);
  // SIGHUP comes from root or the server's own user: authorised by definition, no API token.
  const reload = async () => {
    if (!rt.reload) {
      rt.app.log.warn('SIGHUP: nothing to reload, this server runs on the embedded default inventory (start it with --config FILE)');
      return;
    }
    try {
      const inv = await rt.reload();
      for (const w of inv.warnings) rt.app.log.warn(`inventory: ${w}`);
    } catch (e) {
      if (e instanceof InventoryError) rt.app.log.error(`SIGHUP: reload refused, nothing changed. ${e.problems.length} problem${e.problems.length === 1 ? '' : 's'}:\n${e.problems.join('\n')}`);
      else rt.app.log.error(`SIGHUP: reload failed, nothing changed: ${(e as Error).message}`);
    }
  };
  if (io.serve) await io.serve(rt, url, reload);
  await rt.stop();
  return 0;
}
