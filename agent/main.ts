/**
 * hawatch-agent: the NRPE-compatible daemon's command line. The only place that exits.
 *
 *   hawatch-agent -c /etc/hawatch/agent.cfg [-n] [--check-config]
 */
import { execFileSync } from 'node:child_process';
import { constants as fsc } from 'node:fs';
import { lstat, open, unlink } from 'node:fs/promises';
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

/**
 * Writes the pid file as root, before the drop. Never blocks (O_NONBLOCK: a FIFO without a
 * reader fails at once instead of hanging the start) and never writes through a symlink or
 * into anything but a regular file (the folder may belong to the agent user).
 */
async function writePidFile(path: string, pid: number): Promise<string | undefined> {
  let fh;
  try {
    fh = await open(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_NOFOLLOW | fsc.O_NONBLOCK, 0o644);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENXIO' ? 'it is a FIFO; use a regular file' : code === 'ELOOP' ? 'it is a symbolic link; use a regular file' : (e as Error).message;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return 'it is not a regular file';
    // A hard link planted in a folder the agent user owns would make root truncate another file.
    if (st.nlink !== 1) return 'it has other hard links; use a file of its own';
    await fh.truncate(0);
    await fh.write(`${pid}\n`, 0);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  } finally {
    await fh.close();
  }
}

/** uid and gid of nrpe_user / nrpe_group (names or numbers), through NSS like the C daemon. */
function lookupIds(user: string, group: string): { uid: number; gid: number } {
  const id = (db: 'passwd' | 'group', name: string): number => {
    if (/^\d+$/.test(name)) return Number(name);
    let line = '';
    try {
      line = execFileSync('getent', [db, name], { encoding: 'utf8', timeout: 5000 }).split('\n')[0] ?? '';
    } catch {
      throw new Error(`no ${db === 'passwd' ? 'user' : 'group'} '${name}' (getent ${db} ${name} found nothing): check nrpe_user and nrpe_group`);
    }
    const n = Number(line.split(':')[2]);
    if (!Number.isInteger(n)) throw new Error(`getent ${db} ${name} gave no id`);
    return n;
  };
  return { uid: id('passwd', user), gid: id('group', group) };
}

/**
 * Makes log_file belong to the user the agent switches to, so that user can reopen it on
 * SIGHUP (after logrotate, or at start after the drop). Only a regular file owned by root, or
 * a new one, is chowned, through its descriptor (never through a symbolic link).
 */
async function prepareLogFile(path: string, user: string, group: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (st && (!st.isFile() || st.uid !== 0)) return;
  const { uid, gid } = lookupIds(user, group);
  const fh = await open(path, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW | fsc.O_NONBLOCK, 0o640);
  try {
    // Checked again on the open descriptor (the path may have changed since lstat): only a
    // root-owned regular file without other hard links is handed over.
    const st = await fh.stat();
    if (st.isFile() && st.nlink === 1 && st.uid === 0) await fh.chown(uid, gid);
  } finally {
    await fh.close();
  }
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
    process.stdout.write(`${first.files[0]}: ${first.commands.size} commands, ${first.watches.size ? `${first.watches.size} watchers, ` : ''}${first.push.url ? `push to ${first.push.url}, ` : ''}${problems.length ? 'NOT usable' : 'fine'}\n`);
    process.exit(problems.length ? 2 : 0);
  }
  if (values.daemon) log.warn('-d is ignored: the agent stays in the foreground (run it under systemd)');

  const applyLogging = async (cfg: AgentConfig): Promise<void> => {
    log.setLevel(cfg.debug ? 'debug' : 'info');
    await log.setFile(cfg.logFile);
  };
  const willDrop = typeof process.getuid === 'function' && process.getuid() === 0 && first.nrpeUser !== undefined;
  try {
    if (willDrop && first.logFile) await prepareLogFile(first.logFile, first.nrpeUser!, first.nrpeGroup ?? first.nrpeUser!);
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
    refuseRoot: true,
  });
  // Order matters: bind (root, for low ports) and read the TLS files; write the pid file
  // (root); drop to nrpe_user; only then answer anything. Connections that arrive before
  // serve() wait in the kernel and in the agent, unread.
  try {
    await agent.start();
  } catch (e) {
    log.error('cannot start', { error: (e as Error).message });
    fail((e as Error).message);
  }
  let pidWritten = false;
  if (first.pidFile) {
    const why = await writePidFile(first.pidFile, process.pid);
    if (why) log.warn('pid_file not written', { file: first.pidFile, error: why });
    pidWritten = why === undefined;
  }
  const why = dropPrivileges(first);
  if (why) {
    log.error('cannot start', { error: why });
    fail(why);
  }
  if (willDrop && first.logFile) {
    // Reopen as the agent user now, so a file it cannot reopen fails the start, not the first SIGHUP.
    try {
      await applyLogging(first);
    } catch (e) {
      await log.setFile(undefined);
      log.error('cannot start', { error: `cannot reopen log_file '${first.logFile}' as ${first.nrpeUser}: ${(e as Error).message}` });
      fail(`cannot reopen log_file '${first.logFile}' as ${first.nrpeUser}: ${(e as Error).message}; make it writable by that user`);
    }
  }
  agent.serve();
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
      // Only a pid file we wrote: never a FIFO or someone else's file at that path.
      if (first.pidFile && pidWritten) await unlink(first.pidFile).catch(() => undefined);
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
