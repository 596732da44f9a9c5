/**
 * hawatch-agent: the NRPE-compatible daemon's command line. The only place that exits.
 *
 *   hawatch-agent -c /etc/hawatch/agent.cfg [-n] [--check-config]
 */
import { unlink, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { VERSION } from '../nagios/version.ts';
import { plugins } from '../plugins/registry.ts';
import { ConfigError, configProblems, loadConfig, type AgentConfig } from './config.ts';
import { createLogger } from './log.ts';
import { createAgent, HELLO_TEXT } from './server.ts';

const USAGE = `hawatch-agent ${VERSION} - NRPE-compatible agent of hawatch (answers check_nrpe v2/v3/v4; ${HELLO_TEXT})

Usage: hawatch-agent -c CONFIG [-n] [--check-config]

  -c, --config FILE   nrpe.cfg-style configuration (an existing nrpe.cfg works as it is)
  -n, --no-ssl        plain TCP instead of TLS (like 'nrpe -n'; clients need 'check_nrpe -n')
      --check-config  read the configuration, report problems and exit (0 fine, 2 not)
  -f, --foreground    accepted for nrpe compatibility: the agent always stays in the foreground
  -V, --version       print the version
  -h, --help          this help

Signals: SIGHUP reloads the configuration (connections in flight go on with the old one)
and reopens log_file; SIGTERM/SIGINT stop accepting, let requests in flight finish (10 s) and exit.
Logs are JSON lines on stderr, or in log_file.
`;

function fail(message: string, code = 2): never {
  process.stderr.write(`hawatch-agent: ${message}\n`);
  process.exit(code);
}

function dropPrivileges(cfg: AgentConfig): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  if (!cfg.nrpeUser) {
    return 'refusing to run commands as root: set nrpe_user (and nrpe_group) in the configuration, or start the agent as an unprivileged user (the systemd unit uses User=nagios); checks that need root go through sudo (see sudoers.sample)';
  }
  try {
    const group = cfg.nrpeGroup ?? cfg.nrpeUser;
    // initgroups keeps the user's supplementary groups (e.g. haclient for crm_mon).
    const initgroups = (process as unknown as { initgroups?: (user: string, extra: string) => void }).initgroups;
    if (initgroups) initgroups(cfg.nrpeUser, group);
    else process.setgroups!([group]);
    process.setgid!(group);
    process.setuid!(cfg.nrpeUser);
  } catch (e) {
    return `cannot switch to user '${cfg.nrpeUser}' / group '${cfg.nrpeGroup ?? cfg.nrpeUser}': ${(e as Error).message}`;
  }
  if (process.getuid() === 0 || process.getgid!() === 0) return 'nrpe_user/nrpe_group must not be root';
  return undefined;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2),
      options: {
        config: { type: 'string', short: 'c' },
        'no-ssl': { type: 'boolean', short: 'n' },
        'check-config': { type: 'boolean' },
        foreground: { type: 'boolean', short: 'f' },
        daemon: { type: 'boolean', short: 'd' },
        version: { type: 'boolean', short: 'V' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    fail(`${(e as Error).message}; see 'hawatch-agent --help'`, 3);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (values.version) {
    process.stdout.write(`hawatch-agent ${VERSION} (${HELLO_TEXT})\n`);
    return;
  }
  const path = values.config;
  if (!path) fail("no configuration given: use -c /etc/hawatch/agent.cfg (an nrpe.cfg works as it is)", 3);

  const log = createLogger('info');
  let first: AgentConfig | undefined;
  try {
    first = await loadConfig(path);
  } catch (e) {
    fail(e instanceof ConfigError ? e.message : `cannot load the configuration: ${(e as Error).message}`);
  }
  if (values['check-config']) {
    for (const w of first.warnings) process.stderr.write(`warning: ${w}\n`);
    const problems = configProblems(first, !values['no-ssl']);
    for (const p of problems) process.stderr.write(`error: ${p}\n`);
    process.stdout.write(`${first.files[0]}: ${first.commands.size} commands, ${problems.length ? 'NOT usable' : 'fine'}\n`);
    process.exit(problems.length ? 2 : 0);
  }
  if (values.daemon) log.warn('-d is ignored: the agent stays in the foreground (run it under systemd)');

  const applyLogging = async (cfg: AgentConfig): Promise<void> => {
    log.setLevel(cfg.debug ? 'debug' : 'info');
    await log.setFile(cfg.logFile);
  };
  try {
    await applyLogging(first);
  } catch (e) {
    fail(`cannot open log_file '${first.logFile}': ${(e as Error).message}`);
  }

  let pending: AgentConfig | undefined = first;
  const agent = createAgent({
    load: async () => {
      if (pending) {
        const c = pending;
        pending = undefined;
        return c;
      }
      return loadConfig(path);
    },
    useTls: !values['no-ssl'],
    plugins,
    logger: log,
  });
  try {
    await agent.start();
  } catch (e) {
    log.error('cannot start', { error: (e as Error).message });
    fail((e as Error).message);
  }
  if (first.pidFile) {
    await writeFile(first.pidFile, `${process.pid}\n`).catch((e: Error) => log.warn('cannot write pid_file', { file: first.pidFile, error: e.message }));
  }
  const why = dropPrivileges(first);
  if (why) {
    log.error('cannot start', { error: why });
    fail(why);
  }
  log.info('started', { version: VERSION, pid: process.pid, uid: process.getuid?.(), plugins: plugins.map((p) => p.name).join(',') });

  let reloading = Promise.resolve();
  process.on('SIGHUP', () => {
    reloading = reloading.then(async () => {
      const reopen = async (cfg: AgentConfig): Promise<void> => {
        try {
          await applyLogging(cfg);
        } catch (e) {
          await log.setFile(undefined);
          log.error('cannot open log_file; logging to stderr', { file: cfg.logFile, error: (e as Error).message });
        }
      };
      // Reopen first, so after logrotate moved the file the reload is logged in the new one.
      const before = agent.config!;
      await reopen(before);
      log.info('SIGHUP: reloading');
      if ((await agent.reload()) && (agent.config!.logFile !== before.logFile || agent.config!.debug !== before.debug)) await reopen(agent.config!);
    });
  });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    void agent.close(10_000).then(async () => {
      if (first.pidFile) await unlink(first.pidFile).catch(() => undefined);
      log.info('stopped');
      await log.close();
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('uncaughtException', (e) => {
    // A bug, not a bad request (those are handled per connection): log it and let systemd restart us.
    log.error('internal error; exiting', { error: e.message, stack: e.stack?.split('\n').slice(0, 6).join(' | ') });
    process.exit(70);
  });
}

void main();
