/**
 * The command line shared by the MySQL-family checks (check_ha_mysql, check_ha_galera):
 * -H/-P/-u/--defaults-file into credentials and targets, and --save-input.
 */
import { writeFile } from 'node:fs/promises';
import { PluginError, type PluginContext } from '../../nagios/plugin.ts';
import { loadCredentials, type Credentials } from './connection.ts';
import { parseTargets, type Target } from './target.ts';

/**
 * Credentials (option file group `[client]`, then `[<check name>]`; MYSQL_PWD) and the servers:
 * -H, else host/socket from the option file, else localhost. The option file's port applies
 * unless -P was given.
 */
export function connectionSettings(ctx: PluginContext, checkName: string): { credentials: Credentials; targets: Target[] } {
  const port = Number(ctx.string('port'));
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new PluginError(`invalid --port '${ctx.string('port')}': expected 1-65535`);
  const credentials = loadCredentials({ defaultsFile: ctx.string('defaults-file'), user: ctx.string('user'), groups: [checkName], env: ctx.env });
  let hosts = ctx.strings('hostname');
  if (hosts.length === 0) hosts = [credentials.defaultTarget ?? 'localhost'];
  const targets = parseTargets(hosts, credentials.defaultPort !== undefined && ctx.options.port === '3306' ? credentials.defaultPort : port);
  return { credentials, targets };
}

/** --save-input: the capture as JSON for a later --input-file (mode 0600: it names the servers). */
export async function saveCapture(path: string | undefined, capture: unknown): Promise<void> {
  if (path === undefined) return;
  try {
    await writeFile(path, JSON.stringify(capture, null, 2) + '\n', { mode: 0o600 });
  } catch (e) {
    throw new PluginError(`cannot write --save-input file '${path}': ${(e as Error).message.split('\n')[0]}`);
  }
}
