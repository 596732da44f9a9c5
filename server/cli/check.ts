/**
 * `hawatch-server check`, the semantic part: what the YAML validation cannot see. Every
 * local command must resolve to a program that exists and is executable (or be the
 * server's own built-in demo checks), and every file the inventory names (CA, client
 * certificates and keys, SSH keys, password and token files) must exist as a regular file
 * the server can read. Each finding is reported once, however many checks share it.
 *
 * These are warnings, not errors: a missing plugin is a check the running server reports
 * (UNKNOWN, with the package to install), not a reason to refuse to monitor everything
 * else. `check --strict` makes them fail the command.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { findProgram } from '../../nagios/exec.ts';
import type { Inventory } from '../inventory/types.ts';
import { checkHost } from '../inventory/hostcheck.ts';
import { buildRequest } from '../scheduler/request.ts';
import { isPassive } from './export-common.ts';

export interface SemanticOptions {
  /** $NODE$, $HAWATCH_SERVER$, $HAWATCH_BIN$ as the running server would set them. */
  readonly runtimeMacros: Readonly<Record<string, string>>;
}

function fileProblem(path: string, kind: 'file' | 'program' | 'dir'): string | null {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'cannot be reached (permission denied on a folder above it)' : `cannot be read (${code ?? 'error'})`;
  }
  if (kind === 'dir') {
    if (!st.isDirectory()) return 'is not a folder';
    try {
      accessSync(path, constants.W_OK | constants.X_OK);
    } catch {
      return 'is not writable by this user';
    }
    return null;
  }
  if (!st.isFile()) return 'is not a regular file';
  try {
    accessSync(path, kind === 'program' ? constants.X_OK : constants.R_OK);
  } catch {
    return kind === 'program' ? 'is not executable by this user' : 'is not readable by this user';
  }
  return null;
}

/**
 * The warnings of the semantic check, in inventory order: one per file or command, naming
 * every place that uses it (a CA shared by 40 hosts is one warning, not 40).
 */
export function semanticWarnings(inv: Inventory, o: SemanticOptions): string[] {
  const found = new Map<string, { text: (users: string) => string; users: string[] }>();
  const add = (key: string, user: string, text: (users: string) => string): void => {
    const f = found.get(key);
    if (f) {
      if (!f.users.includes(user)) f.users.push(user);
    } else found.set(key, { text, users: [user] });
  };
  const other = new Set<string>();
  const file = (path: string | null | undefined, what: string, kind: 'file' | 'dir' = 'file'): void => {
    if (!path) return;
    const p = fileProblem(path, kind);
    if (p) add(`file\0${path}`, what, (users) => `${kind === 'dir' ? 'folder' : 'file'} ${path} (${users}) ${p}`);
  };
  const srv = inv.server;
  file(srv.apiTokenFile, 'server.api_token_file');
  const mail = inv.notifier.email;
  if (mail) {
    file(mail.passwordFile, 'notifications.email.smtp.password_file');
    file(mail.caFile, 'notifications.email.smtp.ca_file');
  }
  file(inv.notifier.smsHttp?.authHeaderFile, 'notifications.sms.http.auth_header_file');
  file(inv.notifier.smstoolsSpool, 'notifications.sms.smstools.spool_dir', 'dir');

  const builtins = new Set([o.runtimeMacros.NODE, o.runtimeMacros.HAWATCH_SERVER].filter((x): x is string => typeof x === 'string'));
  const pathVar = srv.checkEnvironment.PATH;
  for (const h of inv.hosts.values()) {
    if (h.virtual) continue;
    const t = h.transport;
    if (t.kind === 'nrpe') {
      if (t.tls.verify) file(t.tls.caFile, `hosts.${h.name}.nrpe.tls.ca_file`);
      file(t.tls.certFile, `hosts.${h.name}.nrpe.tls.cert_file`);
      file(t.tls.keyFile, `hosts.${h.name}.nrpe.tls.key_file`);
    } else if (t.kind === 'ssh') {
      file(t.privateKeyFile, `hosts.${h.name}.ssh.private_key_file`);
      file(t.passphraseFile, `hosts.${h.name}.ssh.passphrase_file`);
    }
    // What runs on this admin node: every check of a local host, and the run_on: server
    // services of the others (against their address).
    const local = t.kind === 'local';
    const checks = [...inv.services.values()].filter((s) => s.hostName === h.name && !isPassive(s) && (local || s.runOn === 'server')).map((s) => ({ what: `service ${s.key}`, spec: s.command, name: s.name as string | null }));
    if (local && h.check && !isPassive(h)) checks.push({ what: `host check of ${h.name}`, spec: h.check, name: null });
    {
      for (const c of checks) {
        let program: string;
        try {
          const req = buildRequest(inv, checkHost(h, { runOn: 'server' }), c.name, c.spec, 1000, o.runtimeMacros);
          if (req.command.kind !== 'argv') continue;
          program = req.command.argv[0];
        } catch (e) {
          other.add(`${c.what}: ${(e as Error).message}`);
          continue;
        }
        if (builtins.has(program)) continue;
        if (isAbsolute(program) || program.includes('/')) {
          const p = fileProblem(program, 'program');
          if (p) add(`program\0${program}`, c.what, (users) => `command ${program} (${users}) ${p}`);
        } else if (findProgram(program, pathVar) === undefined) {
          add(`program\0${program}`, c.what, (users) => `command ${program} (${users}) is found neither in the PATH of local checks nor in /usr/local/sbin, /usr/sbin, /sbin: install it or write its full path`);
        }
      }
    }
  }
  return [...[...found.values()].map((f) => f.text(f.users.join(', '))), ...other];
}
