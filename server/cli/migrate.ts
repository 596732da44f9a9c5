/**
 * `hawatch-server migrate [--config FILE] [--data FILE]`: applies the store's schema alone,
 * without starting the server, so an upgrade can migrate the database once (from a deploy
 * step, as the service's user) before the instances start, and a failing migration is seen
 * there rather than as a server that does not come up.
 *
 * Exit codes: 0 applied or already current; 1 the inventory has problems, the database
 * cannot be reached or a migration failed (nothing of that migration applied); 2 usage or
 * an unreadable inventory; 3 the database was migrated by a newer hawatch (left untouched).
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { plainText } from '../core/text.ts';
import { InventoryError } from '../inventory/load.ts';
import type { Inventory } from '../inventory/types.ts';
import { describeTarget, isPostgresUrl, parsePgUrl, PgSession } from '../store/pg-connect.ts';
import { migrate, MIGRATIONS, SchemaTooNewError } from '../store/pg-migrations.ts';
import { openSqliteStore } from '../store/sqlite.ts';
import { argumentError } from './commands.ts';

export const MIGRATE_EXIT = { ok: 0, failed: 1, usage: 2, tooNew: 3 } as const;

export const MIGRATE_HELP = `  hawatch-server migrate [--config FILE] [--data FILE]
                                             apply the database schema alone and say what
                                             was applied (PostgreSQL: each migration; SQLite:
                                             its schema, which every start applies anyway);
                                             exit 0 done or current, 1 failed, 3 database
                                             newer than this program
`;

export interface MigrateIo {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
  readonly readInventory: (config: string | undefined) => Promise<Inventory>;
}

const firstLine = (e: unknown): string => {
  const err = e as { code?: string; message?: string };
  return plainText(`${err.code && !/^E[A-Z]+$/.test(err.code) ? `${err.code} ` : ''}${String(err.message ?? e).split('\n')[0]}`);
};

export async function migrateCommand(argv: readonly string[], io: MigrateIo): Promise<number> {
  let values: { config?: string; data?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv as string[],
      allowPositionals: false,
      options: { config: { type: 'string', short: 'c' }, data: { type: 'string', short: 'd' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (e) {
    io.err(`hawatch-server: ${argumentError(e as Error)}\nusage: hawatch-server migrate [--config FILE] [--data FILE]\n`);
    return MIGRATE_EXIT.usage;
  }
  if (values.help) {
    io.out(`Usage:\n${MIGRATE_HELP}`);
    return MIGRATE_EXIT.ok;
  }
  let inventory: Inventory;
  try {
    inventory = await io.readInventory(values.config);
  } catch (e) {
    if (e instanceof InventoryError) {
      io.err(`${e.problems.join('\n')}\nhawatch-server: ${e.problems.length} problem${e.problems.length === 1 ? '' : 's'} in ${values.config ?? 'the embedded inventory'}; nothing was migrated\n`);
      return MIGRATE_EXIT.failed;
    }
    io.err(`hawatch-server: ${(e as Error).message}\n`);
    return MIGRATE_EXIT.usage;
  }
  // The same database the server would open (cli.ts): --data, else server.database relative to the config.
  let database = values.data ?? inventory.server.database;
  if (!isPostgresUrl(database) && database !== ':memory:' && !isAbsolute(database) && values.data === undefined && values.config !== undefined) {
    database = resolve(dirname(values.config), database);
  }
  if (isPostgresUrl(database)) return migratePostgres(database, inventory.server.databasePasswordFile ?? undefined, io);
  return migrateSqlite(database, io);
}

async function migratePostgres(url: string, passwordFile: string | undefined, io: MigrateIo): Promise<number> {
  let session: PgSession;
  let where: string;
  try {
    const target = parsePgUrl(url);
    where = describeTarget(target);
    session = new PgSession(target, { passwordFile });
  } catch (e) {
    io.err(`hawatch-server: ${firstLine(e)}\n`);
    return MIGRATE_EXIT.failed;
  }
  try {
    const applied = await session.run((c) => migrate(c));
    const names = new Map(MIGRATIONS.map((m) => [m.version, m.name]));
    const newest = Math.max(...MIGRATIONS.map((m) => m.version));
    for (const v of applied) io.out(`${where}: applied migration ${v}: ${names.get(v) ?? ''}\n`);
    if (!applied.length) io.out(`${where}: schema is current (version ${newest}), nothing to apply\n`);
    else io.out(`${where}: schema now at version ${newest}\n`);
    return MIGRATE_EXIT.ok;
  } catch (e) {
    if (e instanceof SchemaTooNewError) {
      io.err(`hawatch-server: ${where}: ${firstLine(e)} (nothing was changed)\n`);
      return MIGRATE_EXIT.tooNew;
    }
    io.err(`hawatch-server: ${where}: ${firstLine(e)}\n`);
    return MIGRATE_EXIT.failed;
  } finally {
    await session.close();
  }
}

function migrateSqlite(file: string, io: MigrateIo): number {
  if (file === ':memory:') {
    io.out(':memory: keeps nothing between starts: no schema to apply\n');
    return MIGRATE_EXIT.ok;
  }
  try {
    // Opening applies the SQLite schema (idempotent, as at every start) and refuses a newer one.
    const store = openSqliteStore(file, Date.now, (_l, m) => io.err(`hawatch-server: ${m}\n`));
    store.close();
  } catch (e) {
    const newer = /newer hawatch/.test((e as Error).message ?? '');
    io.err(`hawatch-server: ${firstLine(e)}${newer ? ' (nothing was changed)' : ''}\n`);
    return newer ? MIGRATE_EXIT.tooNew : MIGRATE_EXIT.failed;
  }
  io.out(`${file}: SQLite schema applied (every start applies it too, so migrate is not needed for SQLite)\n`);
  return MIGRATE_EXIT.ok;
}
