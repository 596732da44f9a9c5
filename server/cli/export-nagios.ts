/**
 * `hawatch-server export nagios`: the inventory as Nagios Core 4 object configuration, so a
 * site that runs Nagios keeps one source of truth. Hosts and services check exactly what
 * hawatch checks (check_nrpe for NRPE hosts, check_by_ssh for SSH hosts, the plugin itself
 * for local ones), with the same intervals, attempts, contacts and notification options.
 * Cluster rules become services of their virtual host that either ask the hawatch server
 * for its judgement (`hawatch-server query`) or wait for passive results.
 *
 * Rendering goes through nagios/config.ts, which refuses what Nagios would misread
 * (line breaks, `!` in arguments, illegal object names) and escapes `;`.
 */
import { renderNagiosObjects, type NagiosCommand, type NagiosHost, type NagiosObject, type NagiosService } from '../../nagios/config.ts';
import type { CheckCommand, NrpeTransport, SshTransport } from '../executors/types.ts';
import type { CommandSpec, ContactConfig, HostConfig, Inventory } from '../inventory/types.ts';
import { checkHost } from '../inventory/hostcheck.ts';
import type { CheckPolicy, NotificationOption } from '../state/types.ts';
import { concreteCommand, exportMacros, isPassive, minutes, seconds, shellQuote, type ExportSettings } from './export-common.ts';
import { exportedPeriod, nagiosEscalations, nagiosTimeperiods } from './export-timing.ts';

const HOST_OPTIONS: readonly NotificationOption[] = ['d', 'u', 'r', 'f', 's'];
const SERVICE_OPTIONS: readonly NotificationOption[] = ['w', 'u', 'c', 'r', 'f', 's'];

/** Nagios expands `$...$` in arguments: a literal dollar is `$$`. */
function nagiosLiteral(s: string): string {
  return s.replace(/\$/g, '$$$$');
}

function options(list: readonly NotificationOption[], allowed: readonly NotificationOption[]): string {
  const kept = list.filter((o) => allowed.includes(o));
  return kept.length ? kept.join(',') : 'n';
}

function policyDirectives(p: CheckPolicy, kind: 'host' | 'service'): Record<string, string | number | boolean | undefined> {
  return {
    max_check_attempts: p.maxCheckAttempts,
    check_interval: minutes(p.checkIntervalMs),
    retry_interval: minutes(p.retryIntervalMs),
    notification_interval: minutes(p.notificationIntervalMs),
    first_notification_delay: minutes(p.firstNotificationDelayMs),
    notification_options: options(p.notificationOptions, kind === 'host' ? HOST_OPTIONS : SERVICE_OPTIONS),
    notifications_enabled: p.notificationsEnabled,
    flap_detection_enabled: p.flap.enabled,
    low_flap_threshold: p.flap.enabled ? p.flap.lowPercent : undefined,
    high_flap_threshold: p.flap.enabled ? p.flap.highPercent : undefined,
    check_freshness: p.freshness.enabled,
    // 0 = Nagios' automatic threshold, the same rule hawatch follows without one.
    freshness_threshold: p.freshness.enabled ? (p.freshness.thresholdMs === undefined ? 0 : seconds(p.freshness.thresholdMs)) : undefined,
  };
}

function nrpeOptions(t: NrpeTransport): string {
  const o = [`-p ${t.port}`];
  if (!t.tls.enabled) o.push('-n');
  if (t.tls.verify && t.tls.caFile) o.push(`-A ${shellQuote(t.tls.caFile)}`);
  if (t.tls.certFile) o.push(`-C ${shellQuote(t.tls.certFile)}`);
  if (t.tls.keyFile) o.push(`-K ${shellQuote(t.tls.keyFile)}`);
  if (t.tls.ciphers) o.push(`-L ${shellQuote(t.tls.ciphers)}`);
  if (t.packetVersion !== 4) o.push(`-${t.packetVersion}`);
  if (t.unreachableState === 3) o.push('-u');
  return o.join(' ');
}

function sshOptions(t: SshTransport): string {
  const o = [`-p ${t.port}`, `-l ${shellQuote(t.user)}`, `-i ${shellQuote(t.privateKeyFile)}`, '-o StrictHostKeyChecking=yes'];
  if (t.unreachableState === 3) o.push('-U');
  return o.join(' ');
}

export interface NagiosExport {
  readonly text: string;
  readonly counts: { hosts: number; services: number; rules: number; contacts: number; commands: number };
}

export function exportNagios(inv: Inventory, s: ExportSettings): NagiosExport {
  const macros = exportMacros(s.serverCommand);
  const commands: NagiosCommand[] = [
    // -t N:STATE as hawatch: a timeout gives server.timeout_state.
    { name: 'hawatch-nrpe', line: `$USER1$/check_nrpe -H $HOSTADDRESS$ $_HOSTHAWATCH_NRPE$ -t $_SERVICEHAWATCH_TIMEOUT$ -c $ARG1$` },
    { name: 'hawatch-nrpe-args', line: `$USER1$/check_nrpe -H $HOSTADDRESS$ $_HOSTHAWATCH_NRPE$ -t $_SERVICEHAWATCH_TIMEOUT$ -c $ARG1$ -a $ARG2$` },
    { name: 'hawatch-nrpe-host', line: `$USER1$/check_nrpe -H $HOSTADDRESS$ $_HOSTHAWATCH_NRPE$ -t $_HOSTHAWATCH_TIMEOUT$ -c $ARG1$` },
    { name: 'hawatch-nrpe-host-args', line: `$USER1$/check_nrpe -H $HOSTADDRESS$ $_HOSTHAWATCH_NRPE$ -t $_HOSTHAWATCH_TIMEOUT$ -c $ARG1$ -a $ARG2$` },
    { name: 'hawatch-ssh', line: `$USER1$/check_by_ssh -H $HOSTADDRESS$ $_HOSTHAWATCH_SSH$ -t $_SERVICEHAWATCH_TIMEOUT$ -C $ARG1$` },
    { name: 'hawatch-ssh-host', line: `$USER1$/check_by_ssh -H $HOSTADDRESS$ $_HOSTHAWATCH_SSH$ -t $_HOSTHAWATCH_TIMEOUT$ -C $ARG1$` },
    // A local check: the whole command line (shell-quoted words) is the argument.
    { name: 'hawatch-local', line: '$ARG1$' },
    { name: 'hawatch-up', line: '$USER1$/check_dummy 0 virtual host of hawatch cluster rules' },
    { name: 'hawatch-rule', line: `${shellQuote(s.queryCommand)} query --url $_HOSTHAWATCH_URL$ --key "$HOSTNAME$/$SERVICEDESC$"` },
    { name: 'hawatch-rule-stale', line: '$USER1$/check_dummy 3 no passive result from hawatch-server' },
    { name: 'hawatch-passive-stale', line: '$USER1$/check_dummy 3 no passive result in time' },
    {
      name: 'hawatch-notify-host-by-email',
      line: '/usr/bin/printf "%b" "***** hawatch via Nagios *****\\n\\nNotification Type: $NOTIFICATIONTYPE$\\nHost: $HOSTNAME$\\nState: $HOSTSTATE$\\nAddress: $HOSTADDRESS$\\nInfo: $HOSTOUTPUT$\\n\\nDate/Time: $LONGDATETIME$\\n" | /usr/bin/mail -s "** $NOTIFICATIONTYPE$ Host Alert: $HOSTNAME$ is $HOSTSTATE$ **" $CONTACTEMAIL$',
    },
    {
      name: 'hawatch-notify-service-by-email',
      line: '/usr/bin/printf "%b" "***** hawatch via Nagios *****\\n\\nNotification Type: $NOTIFICATIONTYPE$\\n\\nService: $SERVICEDESC$\\nHost: $HOSTNAME$\\nAddress: $HOSTADDRESS$\\nState: $SERVICESTATE$\\n\\nDate/Time: $LONGDATETIME$\\n\\nAdditional Info:\\n\\n$SERVICEOUTPUT$\\n" | /usr/bin/mail -s "** $NOTIFICATIONTYPE$ Service Alert: $HOSTNAME$/$SERVICEDESC$ is $SERVICESTATE$ **" $CONTACTEMAIL$',
    },
  ];

  const objects: NagiosObject[] = [
    {
      type: 'timeperiod',
      directives: {
        timeperiod_name: 'hawatch-24x7',
        alias: 'always (hawatch has no notification periods)',
        sunday: '00:00-24:00',
        monday: '00:00-24:00',
        tuesday: '00:00-24:00',
        wednesday: '00:00-24:00',
        thursday: '00:00-24:00',
        friday: '00:00-24:00',
        saturday: '00:00-24:00',
      },
    },
    { type: 'host', directives: { name: 'hawatch-host', register: false, check_period: 'hawatch-24x7', notification_period: 'hawatch-24x7', max_check_attempts: 3, check_interval: 5, retry_interval: 1, event_handler_enabled: false, process_perf_data: true } },
    { type: 'service', directives: { name: 'hawatch-service', register: false, check_period: 'hawatch-24x7', notification_period: 'hawatch-24x7', max_check_attempts: 3, check_interval: 5, retry_interval: 1, event_handler_enabled: false, process_perf_data: true } },
    { type: 'service', directives: { name: 'hawatch-cluster-rule', use: 'hawatch-service', register: false, is_volatile: false } },
  ];

  for (const c of inv.contacts.values()) objects.push(contactObject(c, inv));
  // Nagios refuses a configuration without any contact; nobody is notified, as in the inventory.
  if (inv.contacts.size === 0) {
    objects.push({
      type: 'contact',
      directives: {
        contact_name: 'hawatch-nobody',
        alias: 'nobody: the inventory has no contacts',
        host_notification_period: 'hawatch-24x7',
        service_notification_period: 'hawatch-24x7',
        host_notification_options: 'n',
        service_notification_options: 'n',
        host_notification_commands: 'hawatch-notify-host-by-email',
        service_notification_commands: 'hawatch-notify-service-by-email',
        host_notifications_enabled: false,
        service_notifications_enabled: false,
      },
    });
  }
  for (const [group, members] of inv.contactGroups) {
    if (members.length === 0) continue;
    objects.push({ type: 'contactgroup', directives: { contactgroup_name: group, alias: group, members: [...members] } });
  }

  const groups = new Map<string, string[]>([
    ['hawatch-nrpe', []],
    ['hawatch-ssh', []],
    ['hawatch-local', []],
    ['hawatch-cluster', []],
  ]);
  const hosts: NagiosHost[] = [];
  for (const h of inv.hosts.values()) {
    const group = h.virtual ? 'hawatch-cluster' : `hawatch-${h.transport.kind}`;
    groups.get(group)?.push(h.name);
    const custom: Record<string, string> = { HAWATCH_TIMEOUT: String(seconds(h.timeoutMs)) };
    if (h.transport.kind === 'nrpe') custom.HAWATCH_NRPE = nrpeOptions(h.transport);
    if (h.transport.kind === 'ssh') custom.HAWATCH_SSH = sshOptions(h.transport);
    if (h.virtual) custom.HAWATCH_URL = s.serverUrl;
    const passiveHost = isPassive(h);
    const check = h.virtual ? { checkCommand: 'hawatch-up', args: [] as string[] } : passiveHost ? { checkCommand: 'hawatch-passive-stale', args: [] as string[] } : h.check ? checkCommandOf(inv, h, null, h.check, macros, true) : undefined;
    hosts.push({
      name: h.name,
      address: h.virtual ? '127.0.0.1' : h.address,
      alias: h.virtual ? `${h.name} (hawatch cluster rules)` : h.name,
      use: 'hawatch-host',
      checkCommand: check ? [check.checkCommand, ...(check.args ?? [])].join('!') : undefined,
      parents: h.parents?.length ? [...h.parents] : undefined,
      custom,
      extra: {
        ...policyDirectives(h.policy, 'host'),
        contacts: h.contacts.length ? [...h.contacts] : undefined,
        notification_period: exportedPeriod(inv, h.notificationPeriod),
        check_period: exportedPeriod(inv, h.checkPeriod),
        // No check command: Nagios then assumes UP, as hawatch does.
        active_checks_enabled: !passiveHost && (h.virtual || h.check !== null),
        passive_checks_enabled: passiveHost || undefined,
      },
    });
  }
  for (const [name, members] of groups) {
    if (members.length) objects.push({ type: 'hostgroup', directives: { hostgroup_name: name, alias: `hosts checked by hawatch over ${name.slice(8)}`, members } });
  }

  const services: NagiosService[] = [];
  for (const svc of inv.services.values()) {
    const host = inv.hosts.get(svc.hostName);
    if (!host) continue;
    // Passive: results from outside, UNKNOWN by freshness when none arrives.
    const passive = isPassive(svc);
    const c = passive ? { checkCommand: 'hawatch-passive-stale', args: [] as string[] } : checkCommandOf(inv, checkHost(host, svc), svc.name, svc.command, macros, false);
    services.push({
      hostName: svc.hostName,
      description: svc.name,
      use: 'hawatch-service',
      checkCommand: c.checkCommand,
      args: c.args,
      custom: { HAWATCH_TIMEOUT: String(seconds(svc.timeoutMs)) },
      extra: {
        ...policyDirectives(svc.policy, 'service'),
        ...(passive ? { active_checks_enabled: false, passive_checks_enabled: true, check_freshness: true, freshness_threshold: seconds(svc.policy.freshness.thresholdMs ?? svc.policy.checkIntervalMs * 2 + 60_000) } : {}),
        contacts: svc.contacts.length ? [...svc.contacts] : undefined,
        notification_period: exportedPeriod(inv, svc.notificationPeriod),
        check_period: exportedPeriod(inv, svc.checkPeriod),
      },
    });
  }
  for (const r of inv.clusterRules.values()) {
    const passive = s.rules === 'passive';
    services.push({
      hostName: r.hostName,
      description: r.name,
      use: 'hawatch-cluster-rule',
      checkCommand: passive ? 'hawatch-rule-stale' : 'hawatch-rule',
      extra: {
        ...policyDirectives(r.policy, 'service'),
        active_checks_enabled: !passive,
        passive_checks_enabled: true,
        // Passive: no result for two intervals means hawatch stopped sending; UNKNOWN then.
        ...(passive ? { check_freshness: true, freshness_threshold: seconds(r.policy.checkIntervalMs * 2 + 60_000) } : {}),
        contacts: r.contacts.length ? [...r.contacts] : undefined,
        notification_period: exportedPeriod(inv, r.notificationPeriod),
        notes: r.description || undefined,
      },
    });
  }
  objects.push(...nagiosEscalations(inv));
  objects.push(...dependencyObjects(inv));
  const text = renderNagiosObjects(
    { objects, commands, hosts, services },
    `Generated by hawatch-server export nagios from ${inv.source}: edits will be overwritten. Needs $USER1$ (the plugin folder with check_nrpe, check_by_ssh, check_dummy) in resource.cfg and interval_length=60.`,
  );
  const periods = nagiosTimeperiods(inv);
  return { text: periods ? `${text}\n${periods}` : text, counts: { hosts: hosts.length, services: inv.services.size, rules: inv.clusterRules.size, contacts: inv.contacts.size, commands: commands.length } };
}

/** The part of host/service key: host and, for a service or cluster rule, its description. */
function splitKey(inv: Inventory, key: string): { host: string; service: string | null } {
  const o = inv.services.get(key) ?? inv.clusterRules.get(key);
  return o ? { host: o.hostName, service: o.name } : { host: key, service: null };
}

/**
 * hostdependency and servicedependency objects. Nagios has no mixed kind (a service that
 * depends on a host): those are left out of this export (hawatch still applies them).
 */
function dependencyObjects(inv: Inventory): NagiosObject[] {
  const out: NagiosObject[] = [];
  for (const d of inv.dependencies ?? []) {
    if (d.dependentKind !== d.masterKind) continue;
    const dep = splitKey(inv, d.dependent);
    const master = splitKey(inv, d.master);
    const criteria = (l: readonly string[]) => (l.length ? l.join(',') : 'n');
    const common = {
      inherits_parent: d.inheritsParent,
      execution_failure_criteria: criteria(d.executionFailureCriteria),
      notification_failure_criteria: criteria(d.notificationFailureCriteria),
    };
    if (d.masterKind === 'host') out.push({ type: 'hostdependency', directives: { dependent_host_name: dep.host, host_name: master.host, ...common } });
    else out.push({ type: 'servicedependency', directives: { dependent_host_name: dep.host, dependent_service_description: dep.service ?? '', host_name: master.host, service_description: master.service ?? '', ...common } });
  }
  return out;
}

function contactObject(c: ContactConfig, inv: Inventory): NagiosObject {
  return {
    type: 'contact',
    directives: {
      contact_name: c.name,
      alias: c.name,
      email: c.email ?? undefined,
      pager: c.sms ?? undefined,
      host_notification_period: exportedPeriod(inv, c.hostNotificationPeriod) ?? 'hawatch-24x7',
      service_notification_period: exportedPeriod(inv, c.serviceNotificationPeriod) ?? 'hawatch-24x7',
      host_notification_options: options(c.hostOptions, HOST_OPTIONS),
      service_notification_options: options(c.serviceOptions, SERVICE_OPTIONS),
      host_notification_commands: 'hawatch-notify-host-by-email',
      service_notification_commands: 'hawatch-notify-service-by-email',
      host_notifications_enabled: c.email !== null,
      service_notifications_enabled: c.email !== null,
    },
  };
}

/** check_command and its `!` arguments for one check on its host's transport. */
function checkCommandOf(inv: Inventory, host: HostConfig, serviceName: string | null, spec: CommandSpec, macros: Readonly<Record<string, string>>, forHost: boolean): { checkCommand: string; args: string[] } {
  const cmd: CheckCommand = concreteCommand(inv, host, serviceName, spec, macros);
  const suffix = forHost ? '-host' : '';
  if (cmd.kind === 'nrpe') {
    if (cmd.args.length === 0) return { checkCommand: `hawatch-nrpe${suffix}`, args: [nagiosLiteral(cmd.command)] };
    return { checkCommand: `hawatch-nrpe${suffix}-args`, args: [nagiosLiteral(cmd.command), nagiosLiteral(cmd.args.map(shellQuote).join(' '))] };
  }
  const line = cmd.argv.map(shellQuote).join(' ');
  if (host.transport.kind === 'ssh') return { checkCommand: `hawatch-ssh${suffix}`, args: [nagiosLiteral(shellQuote(line))] };
  return { checkCommand: 'hawatch-local', args: [nagiosLiteral(line)] };
}
