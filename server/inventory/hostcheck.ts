/**
 * The host check a host gets when the inventory writes none. A host without a check used to
 * be "assumed UP" forever, so a dead node never showed DOWN. Now:
 * - NRPE host: the agent's `_NRPE_CHECK` (what check_nrpe sends without -c): the agent
 *   answers with its version, a dead node or agent makes the host DOWN;
 * - SSH host: a login that runs `echo` (connect, host key, authentication, a session);
 * - local host: the admin node itself, UP while the server runs (no check needed);
 * - `check: none` turns the check off; the page and the API then say "no host check".
 */
import type { Transport } from '../executors/types.ts';
import type { CommandSpec, HostConfig, ServiceConfig } from './types.ts';

const LOCAL: Transport = { kind: 'local' };

/**
 * The host a check runs as: the host itself, or (a service with `run_on: server`) the same
 * host with the admin node's local transport, so its macros ($HOSTADDRESS$ ...) stay the
 * host's while the command runs here.
 */
export function checkHost(host: HostConfig, service?: Pick<ServiceConfig, 'runOn'> | null): HostConfig {
  return service?.runOn === 'server' && host.transport.kind !== 'local' ? { ...host, transport: LOCAL } : host;
}

export const NRPE_HELLO = '_NRPE_CHECK';

export function defaultHostCheck(transport: Transport): CommandSpec | null {
  switch (transport.kind) {
    case 'nrpe':
      return { line: NRPE_HELLO, argv: [NRPE_HELLO], args: [] };
    case 'ssh':
      // echo is a shell builtin everywhere: no program has to exist on the host.
      return { line: 'echo SSH OK - login worked', argv: ['echo', 'SSH OK - login worked'], args: [] };
    case 'local':
      return null;
  }
}

/**
 * Why a host shows UP without a check (status output, API, page). `implicit`: a host with
 * neither nrpe, ssh nor local: its checks run on the admin node against its address, as
 * Nagios does with check_ping or check_http; nothing tells whether it is up.
 */
export function noCheckText(kind: 'virtual' | 'local' | 'none' | 'implicit'): string {
  switch (kind) {
    case 'virtual':
      return 'Virtual host for cluster rules, no host check';
    case 'local':
      return 'Local host: the admin node itself, UP while the server runs, no host check';
    case 'none':
      return 'No host check (check: none): shown UP, a dead host would not be noticed';
    case 'implicit':
      return 'No host check: its checks run on the admin node, shown UP; give it a check (e.g. check_ping) to see it DOWN';
  }
}
