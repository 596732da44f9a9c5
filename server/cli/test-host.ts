/**
 * `hawatch-server test-host NAME`: connects to one host the way the scheduler does (the
 * same executor, transport settings, macros and timeouts) and says what works: the
 * connection (TCP, TLS, the agent's allowed_hosts, the SSH host key) and then every
 * check of that host, one line each. A check that answers CRITICAL works; one the agent
 * does not define, refuses, or cannot run does not.
 */
import { stateName, type StateCode } from '../../nagios/states.ts';
import type { CheckOutcome, Executor, ExecutorFactory, Transport } from '../executors/types.ts';
import type { HostConfig, Inventory } from '../inventory/types.ts';
import { checkHost } from '../inventory/hostcheck.ts';
import { buildRequest } from '../scheduler/request.ts';
import { isPassive } from './export-common.ts';

export interface TestHostResult {
  readonly lines: readonly string[];
  readonly ok: boolean;
}

function describeTransport(h: HostConfig): string {
  const t: Transport = h.transport;
  if (t.kind === 'nrpe') {
    const tls = !t.tls.enabled ? 'plain TCP, no TLS' : t.tls.verify ? `TLS, agent certificate verified against ${t.tls.caFile}` : 'TLS, agent not verified (anonymous or unchecked certificate)';
    return `NRPE port ${t.port}, ${tls}${t.tls.certFile ? ', client certificate sent' : ''}`;
  }
  if (t.kind === 'ssh') return `SSH port ${t.port} as ${t.user}, host key pinned`;
  return 'local checks on this node';
}

/** What a failed connection means, in the admin's words. */
function explainConnection(o: CheckOutcome, h: HostConfig): string {
  const text = o.output;
  if (o.failure === 'connect' && /refused/i.test(text)) return `nothing listens on ${h.address} port ${h.transport.kind === 'local' ? '' : h.transport.port}: is the agent running and on this port`;
  if ((o.failure === 'tls' || o.failure === 'protocol' || o.failure === 'connect') && /reset|closed|EOF|socket hang up|ECONNRESET/i.test(text)) {
    return 'the agent closed the connection before answering: this address is probably missing from its allowed_hosts, or TLS settings differ (plain TCP on one side only)';
  }
  if (o.failure === 'tls') return 'TLS handshake failed: compare the certificate, CA and cipher settings of both sides';
  if (o.failure === 'timeout') return 'no answer in time: a firewall may drop the packets';
  if (o.failure === 'hostkey') return 'the SSH host key differs from the pinned one';
  if (o.failure === 'auth') return 'SSH authentication failed: is the public key in the authorized_keys of that user';
  return 'see the message above';
}

function checkWorks(o: CheckOutcome): boolean {
  if (o.failure !== undefined) return false;
  // The agent's own refusals, worded by NRPE and hawatch-agent alike.
  // ...and a plugin that printed nothing (a missing program: exit 127 with the shell's complaint).
  return !/^(NRPE: (Command .* not defined|arguments refused|Unable to read output|Command timed out)|CHECK_NRPE: |\(No output on stdout\))/.test(o.output);
}

export async function testHost(inv: Inventory, name: string, factory: ExecutorFactory, runtimeMacros: Readonly<Record<string, string>>): Promise<TestHostResult> {
  const h = inv.hosts.get(name);
  if (!h || h.virtual) {
    const names = [...inv.hosts.values()].filter((x) => !x.virtual).map((x) => x.name);
    return { ok: false, lines: [`hawatch-server: no host ${name} in ${inv.source}, its hosts are ${names.join(', ') || '(none)'}`] };
  }
  const lines = [`${h.name} (${h.address}): ${describeTransport(h)}`];
  const exec = factory(h.transport);
  let localExec: Executor | undefined;
  let ok = true;
  try {
    if (h.transport.kind === 'nrpe') {
      // What check_nrpe without -c sends: the agent answers with its version, no command runs.
      const o = await exec.run({ hostName: h.name, address: h.address, transport: h.transport, command: { kind: 'nrpe', command: '_NRPE_CHECK', args: [] }, timeoutMs: h.timeoutMs, timeoutState: 3 });
      if (o.failure === undefined) lines.push(`  connection: works (${o.output.split('\n')[0]}, ${Math.round(o.durationMs)} ms): TCP, TLS and allowed_hosts accept this node`);
      else {
        lines.push(`  connection: FAILS - ${o.output.split('\n')[0]}`, `    ${explainConnection(o, h)}`);
        return { ok: false, lines };
      }
    }
    const checks = [...inv.services.values()].filter((s) => s.hostName === h.name && !isPassive(s)).map((s) => ({ what: `service ${s.name}`, spec: s.command, service: s.name as string | null, timeoutMs: s.timeoutMs, runOn: s.runOn }));
    if (h.check && !isPassive(h)) checks.unshift({ what: 'host check', spec: h.check, service: null, timeoutMs: h.timeoutMs, runOn: undefined });
    if (checks.length === 0) lines.push('  no checks run on this host');
    let first = true;
    for (const c of checks) {
      // run_on: server: the command runs here, against the host's address.
      const here = checkHost(h, c);
      const req = buildRequest(inv, here, c.service, c.spec, c.timeoutMs, runtimeMacros);
      const runner = here === h ? exec : (localExec ??= factory(here.transport));
      const o = await runner.run({ ...req, timeoutState: inv.server.timeoutState });
      const cmd = req.command.kind === 'nrpe' ? req.command.command : req.command.argv[0];
      const works = checkWorks(o);
      if (first && here === h && h.transport.kind === 'ssh') {
        if (o.failure === 'connect' || o.failure === 'tls' || o.failure === 'auth' || o.failure === 'hostkey') {
          lines.push(`  connection: FAILS - ${o.output.split('\n')[0]}`, `    ${explainConnection(o, h)}`);
          return { ok: false, lines };
        }
        lines.push('  connection: works: SSH host key and authentication accepted');
      }
      if (here === h) first = false;
      ok &&= works;
      const state = stateName(o.state as StateCode);
      lines.push(`  ${c.what} (${cmd}): ${works ? 'works' : 'FAILS'}, ${state} in ${Math.round(o.durationMs)} ms - ${o.output.split('\n')[0]}`);
    }
  } finally {
    await exec.close();
    await localExec?.close();
  }
  lines.push(ok ? `${h.name}: everything works` : `${h.name}: some checks do not work (FAILS above)`);
  return { ok, lines };
}
