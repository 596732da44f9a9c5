/** Builds an executor request from the inventory: macros expanded per token, no shell. */
import type { CheckRequest } from '../executors/types.ts';
import { CommandLineError, substituteMacros } from '../../nagios/commandline.ts';
import type { CommandSpec, HostConfig, Inventory } from '../inventory/types.ts';

export function buildRequest(inv: Inventory, host: HostConfig, serviceName: string | null, command: CommandSpec, timeoutMs: number, runtimeMacros: Readonly<Record<string, string>>, signal?: AbortSignal): CheckRequest {
  const values: Record<string, string> = {
    ...runtimeMacros,
    ...inv.server.macros,
    HOSTNAME: host.name,
    HOSTADDRESS: host.address,
    SERVICEDESC: serviceName ?? '',
  };
  const unknown: string[] = [];
  command.args.forEach((a, i) => {
    values[`ARG${i + 1}`] = substituteMacros(a, values, unknown);
  });
  const argv = command.argv.map((t) => substituteMacros(t, values, unknown)) as [string, ...string[]];
  // The inventory checked every macro; this only catches a run-time macro that is missing.
  if (unknown.length) throw new CommandLineError(`unknown macro ${[...new Set(unknown)].map((n) => `$${n}$`).join(', ')}`);
  return {
    hostName: host.name,
    address: host.address,
    transport: host.transport,
    command: host.transport.kind === 'nrpe' ? { kind: 'nrpe', command: argv[0], args: argv.slice(1) } : { kind: 'argv', argv },
    timeoutMs,
    timeoutState: inv.server.timeoutState,
    signal,
    ...(host.transport.kind === 'local' ? { environment: inv.server.checkEnvironment } : {}),
  };
}
