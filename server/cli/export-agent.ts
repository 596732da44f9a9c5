/**
 * `hawatch-server export agent --host NAME`: the agent configuration (nrpe.cfg syntax) one
 * NRPE node needs for the checks the inventory runs there: its port, the admin node in
 * allowed_hosts, and one command[...] line per command name the server asks for.
 *
 * hawatch's own checks are found by name (check_ha_crm, or check_crm for short) and run
 * in-process by the agent; any other check_* is taken from the plugin folder.
 *
 * Arguments the server sends for this node are written into the line itself, never as
 * $ARGn$: the agent runs exactly what the inventory says, options that name files or
 * programs (--input-file, --defaults-file: the agent never takes them from the network)
 * included. dont_blame_nrpe=1 is then set only so that the agent accepts the server's query
 * (which carries those arguments); no line has an $ARGn$ for them to change anything.
 */
import { renderNrpeConfig } from '../../nagios/config.ts';
import type { Inventory } from '../inventory/types.ts';
import { agentProgramFor, concreteCommand, exportMacros, isPassive, seconds, shellQuote, DEFAULT_PLUGIN_DIR } from './export-common.ts';

export class AgentExportError extends Error {
  override name = 'AgentExportError';
}

export interface AgentExportOptions {
  readonly host: string;
  /** Who may connect: the admin node's address(es). */
  readonly allowedHosts: readonly string[];
  readonly pluginDir?: string;
  readonly serverCommand: string;
}

export interface AgentExport {
  readonly text: string;
  /** Command name -> the services that use it. */
  readonly commands: ReadonlyMap<string, readonly string[]>;
  readonly warnings: readonly string[];
}

export function exportAgent(inv: Inventory, o: AgentExportOptions): AgentExport {
  const host = inv.hosts.get(o.host);
  if (!host || host.virtual) throw new AgentExportError(`no host ${o.host} in ${inv.source}: use one of ${[...inv.hosts.values()].filter((h) => !h.virtual).map((h) => h.name).join(', ') || '(none)'}`);
  if (host.transport.kind !== 'nrpe') throw new AgentExportError(`host ${o.host} is checked over ${host.transport.kind}, not NRPE: it needs no agent configuration`);
  const pluginDir = o.pluginDir ?? DEFAULT_PLUGIN_DIR;
  const macros = exportMacros(o.serverCommand);
  const lines = new Map<string, string>();
  const users = new Map<string, string[]>();
  const warnings: string[] = [];
  let withArgs = false;
  let maxTimeout = 0;
  const checks = [...inv.services.values()].filter((s) => s.hostName === host.name && !isPassive(s) && s.runOn !== 'server').map((s) => ({ what: `service ${s.name}`, spec: s.command, timeoutMs: s.timeoutMs, service: s.name as string | null }));
  if (host.check && !isPassive(host)) checks.push({ what: 'host check', spec: host.check, timeoutMs: host.timeoutMs, service: null });
  for (const c of checks) {
    const cmd = concreteCommand(inv, host, c.service, c.spec, macros);
    // The version query (a default host check) is answered by the agent itself: no line for it.
    if (cmd.kind !== 'nrpe' || cmd.command === '_NRPE_CHECK') continue;
    maxTimeout = Math.max(maxTimeout, c.timeoutMs);
    const { program, builtin } = agentProgramFor(cmd.command, pluginDir);
    // `$` is the agent's macro sign: a literal one is `$$`.
    const words = cmd.args.map((a) => shellQuote(a).replace(/\$/g, '$$$$'));
    if (cmd.args.length) withArgs = true;
    const line = [program, ...words].join(' ');
    const before = lines.get(cmd.command);
    if (before !== undefined && before !== line) {
      warnings.push(`command ${cmd.command} is sent with different option words by two checks (${users.get(cmd.command)?.join(', ')} and ${c.what}): kept the first, give the other command its own name (check_ha_NAME_SUFFIX for a second use of one of ours, e.g. check_ha_procs_php)`);
    } else lines.set(cmd.command, line);
    users.set(cmd.command, [...(users.get(cmd.command) ?? []), c.what]);
    // The agent refuses a whole query whose arguments hold one of these (nasty_metachars), as NRPE does.
    const nasty = cmd.args.find((a) => /[|`&><'\\[\]{};\r\n]/.test(a) || a.includes('$('));
    if (nasty !== undefined) warnings.push(`${c.what} sends an argument the agent refuses (nasty_metachars: a pipe, quote, bracket, semicolon, backslash or redirection): write the value into a command of its own instead of passing it`);
    if (!builtin) warnings.push(`command ${cmd.command} is not a hawatch check: the line runs ${program}, which must exist on ${host.name}`);
  }
  if (lines.size === 0) warnings.push(`host ${host.name} has no check over NRPE in ${inv.source}`);
  const t = host.transport;
  const header = [
    `# hawatch-agent configuration for ${host.name} (${host.address}), from ${inv.source} by hawatch-server export agent.`,
    '# Install as /etc/hawatch/agent.cfg, check with hawatch-agent --check-config -c /etc/hawatch/agent.cfg.',
  ];
  if (!t.tls.enabled) header.push('# The server connects without TLS (nrpe tls: false): start the agent with -n.');
  // TLS with certificates: the agent needs its own certificate (the server verifies it), and
  // the CA to verify the server's client certificate. The paths are where the packages
  // and the examples put them on the node; the files are the node's own.
  const ssl = t.tls.enabled && (t.tls.verify || t.tls.certFile)
    ? {
        certFile: '/etc/hawatch/tls/agent.crt',
        privateKeyFile: '/etc/hawatch/tls/agent.key',
        ...(t.tls.certFile ? { caCertFile: '/etc/hawatch/tls/ca.crt', clientCerts: 2 as const } : {}),
        useAdh: 0 as const,
      }
    : undefined;
  if (ssl) header.push(`# TLS with certificates: put this node's certificate and key in /etc/hawatch/tls/agent.crt and agent.key (readable by the agent only)${t.tls.certFile ? ', and the CA that signed the admin node\'s client certificate in ca.crt' : ''}.`);
  if (withArgs) header.push('# dont_blame_nrpe=1 only lets the server send the arguments it has: no line uses $ARGn$, so they change nothing.');
  for (const name of lines.keys()) header.push(`# ${name}: ${users.get(name)?.join(', ')}`);
  const body = renderNrpeConfig({
    serverPort: t.port,
    allowedHosts: o.allowedHosts,
    nrpeUser: 'nagios',
    nrpeGroup: 'nagios',
    dontBlameNrpe: withArgs,
    // The agent answers (UNKNOWN) before the server gives up on the check.
    commandTimeout: Math.max(1, seconds(maxTimeout || 60_000)),
    ...(ssl ? { ssl } : {}),
    commands: Object.fromEntries(lines),
  });
  return { text: `${header.join('\n')}\n${body}`, commands: users, warnings };
}
