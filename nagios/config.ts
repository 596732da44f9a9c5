/**
 * Rendering of Nagios Core 4 and NRPE configuration, pure: objects in, config text out.
 *
 * Used to hand an inventory to a stock Nagios (migration, side-by-side runs, the scheduler
 * benchmark's baseline) and to write an agent's nrpe.cfg. Everything rendered is
 * validated the way Nagios/NRPE would read it, so a value can never become a second
 * directive: no line breaks anywhere; `;` (a comment in object files) is escaped as `\;`;
 * object names are checked against illegal_object_name_chars; NRPE keys and command names
 * are checked too. `nagios4 -v` accepts what this renders (tested).
 */

export class ConfigRenderError extends Error {
  override name = 'ConfigRenderError';
}

/** Nagios 4's default illegal_object_name_chars. */
export const ILLEGAL_OBJECT_NAME_CHARS = "`~!$%^&*|'\"<>?,()=";

export type DirectiveValue = string | number | boolean | readonly string[] | undefined;

export interface NagiosCommand {
  readonly name: string;
  /** The command line with $ARGn$ / $HOSTADDRESS$ macros. */
  readonly line: string;
}

export interface NagiosHost {
  readonly name: string;
  readonly address: string;
  readonly alias?: string;
  /** A template to inherit from (`use`). */
  readonly use?: string;
  readonly checkCommand?: string;
  readonly maxCheckAttempts?: number;
  /** Minutes (units of interval_length). */
  readonly checkInterval?: number;
  readonly retryInterval?: number;
  readonly parents?: readonly string[];
  readonly hostgroups?: readonly string[];
  /** Custom variables without the leading underscore: { NODE_ROLE: 'db' } -> `_NODE_ROLE db`. */
  readonly custom?: Readonly<Record<string, string>>;
  /** Any other directive, rendered as given. */
  readonly extra?: Readonly<Record<string, DirectiveValue>>;
}

export interface NagiosService {
  readonly hostName: string;
  readonly description: string;
  readonly use?: string;
  /** The command name; `args` are appended with `!` as Nagios expects. */
  readonly checkCommand: string;
  readonly args?: readonly string[];
  readonly maxCheckAttempts?: number;
  readonly checkInterval?: number;
  readonly retryInterval?: number;
  readonly servicegroups?: readonly string[];
  readonly custom?: Readonly<Record<string, string>>;
  readonly extra?: Readonly<Record<string, DirectiveValue>>;
}

/** A free-form object (timeperiod, contact, template...): directives in the given order. */
export interface NagiosObject {
  readonly type: string;
  readonly directives: Readonly<Record<string, DirectiveValue>>;
}

export interface NagiosObjects {
  readonly commands?: readonly NagiosCommand[];
  readonly hosts?: readonly NagiosHost[];
  readonly services?: readonly NagiosService[];
  /** Timeperiods, contacts, templates, groups: rendered first. */
  readonly objects?: readonly NagiosObject[];
}

function noLineBreak(what: string, value: string): string {
  if (/[\r\n\0]/.test(value)) throw new ConfigRenderError(`${what} contains a line break or NUL: ${JSON.stringify(value.slice(0, 60))}`);
  return value;
}

/** An object name Nagios accepts: not empty, no illegal characters, no leading/trailing blanks. */
export function checkObjectName(what: string, name: string, illegal: string = ILLEGAL_OBJECT_NAME_CHARS): string {
  noLineBreak(what, name);
  if (name.trim() === '' || name !== name.trim()) throw new ConfigRenderError(`${what} '${name}' is empty or has leading/trailing blanks`);
  for (const ch of name) {
    if (illegal.includes(ch)) throw new ConfigRenderError(`${what} '${name}' contains '${ch}', which Nagios does not allow in object names (illegal_object_name_chars)`);
  }
  if (name.includes(';')) throw new ConfigRenderError(`${what} '${name}' contains ';'`);
  return name;
}

function directiveValue(key: string, value: Exclude<DirectiveValue, undefined>): string {
  let text: string;
  if (typeof value === 'boolean') text = value ? '1' : '0';
  else if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ConfigRenderError(`directive ${key} is not a finite number`);
    text = String(value);
  } else if (typeof value === 'string') text = value;
  else text = value.join(',');
  noLineBreak(`directive ${key}`, text);
  // Nagios 4 strips everything after an unescaped ';' as a comment.
  return text.replace(/;/g, '\\;');
}

export function renderObject(o: NagiosObject): string {
  if (!/^[a-z]+$/.test(o.type)) throw new ConfigRenderError(`invalid object type '${o.type}'`);
  const entries = Object.entries(o.directives).filter((e): e is [string, Exclude<DirectiveValue, undefined>] => e[1] !== undefined);
  const width = Math.max(0, ...entries.map(([k]) => k.length)) + 2;
  const lines = entries.map(([k, v]) => {
    if (!/^_?[A-Za-z0-9_]+$/.test(k)) throw new ConfigRenderError(`invalid directive name '${k}' in a ${o.type} definition`);
    return `    ${k.padEnd(width)}${directiveValue(k, v)}`;
  });
  return `define ${o.type} {\n${lines.join('\n')}\n}\n`;
}

function customDirectives(custom: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(custom ?? {})) {
    if (!/^[A-Za-z0-9_]+$/.test(k)) throw new ConfigRenderError(`invalid custom variable name '${k}'`);
    out[`_${k.toUpperCase()}`] = v;
  }
  return out;
}

function commandObject(c: NagiosCommand): NagiosObject {
  checkObjectName('command name', c.name);
  if (c.line.trim() === '') throw new ConfigRenderError(`command '${c.name}' has an empty command line`);
  return { type: 'command', directives: { command_name: c.name, command_line: c.line } };
}

function hostObject(h: NagiosHost): NagiosObject {
  checkObjectName('host name', h.name);
  h.parents?.forEach((p) => checkObjectName(`parent of host ${h.name}`, p));
  return {
    type: 'host',
    directives: {
      use: h.use,
      host_name: h.name,
      alias: h.alias ?? h.name,
      address: h.address,
      check_command: h.checkCommand,
      max_check_attempts: h.maxCheckAttempts,
      check_interval: h.checkInterval,
      retry_interval: h.retryInterval,
      parents: h.parents?.length ? h.parents : undefined,
      hostgroups: h.hostgroups?.length ? h.hostgroups : undefined,
      ...customDirectives(h.custom),
      ...h.extra,
    },
  };
}

/** `check_nrpe!check_load!-w!5` from a command name and its arguments. */
export function checkCommandWithArgs(command: string, args: readonly string[] = []): string {
  args.forEach((a, i) => {
    if (a.includes('!')) throw new ConfigRenderError(`argument ${i + 1} of check command '${command}' contains '!', the argument separator of check_command`);
  });
  return [command, ...args].join('!');
}

function serviceObject(s: NagiosService): NagiosObject {
  checkObjectName('host name of a service', s.hostName);
  // Service descriptions may contain more than object names, but not these (Nagios refuses them).
  checkObjectName(`service description on ${s.hostName}`, s.description, "`~!$%^&*|'\"<>?()=");
  return {
    type: 'service',
    directives: {
      use: s.use,
      host_name: s.hostName,
      service_description: s.description,
      check_command: checkCommandWithArgs(s.checkCommand, s.args),
      max_check_attempts: s.maxCheckAttempts,
      check_interval: s.checkInterval,
      retry_interval: s.retryInterval,
      servicegroups: s.servicegroups?.length ? s.servicegroups : undefined,
      ...customDirectives(s.custom),
      ...s.extra,
    },
  };
}

/** Renders an object configuration file (cfg_file=) with everything given. */
export function renderNagiosObjects(o: NagiosObjects, header = 'Generated by hawatch: edits will be overwritten.'): string {
  const parts: string[] = [`# ${noLineBreak('header', header)}\n`];
  for (const x of o.objects ?? []) parts.push(renderObject(x));
  for (const c of o.commands ?? []) parts.push(renderObject(commandObject(c)));
  const hostNames = new Set<string>();
  for (const h of o.hosts ?? []) {
    if (hostNames.has(h.name)) throw new ConfigRenderError(`host '${h.name}' is defined twice`);
    hostNames.add(h.name);
    parts.push(renderObject(hostObject(h)));
  }
  const serviceKeys = new Set<string>();
  for (const s of o.services ?? []) {
    const key = `${s.hostName}\0${s.description}`;
    if (serviceKeys.has(key)) throw new ConfigRenderError(`service '${s.description}' on host '${s.hostName}' is defined twice`);
    serviceKeys.add(key);
    parts.push(renderObject(serviceObject(s)));
  }
  return parts.join('\n');
}

/** The objects every standalone configuration needs: a 24x7 period, a contact, templates. */
export function baseObjects(opts: { contactEmail?: string } = {}): NagiosObject[] {
  return [
    {
      type: 'timeperiod',
      directives: {
        timeperiod_name: '24x7',
        alias: '24 Hours A Day, 7 Days A Week',
        sunday: '00:00-24:00',
        monday: '00:00-24:00',
        tuesday: '00:00-24:00',
        wednesday: '00:00-24:00',
        thursday: '00:00-24:00',
        friday: '00:00-24:00',
        saturday: '00:00-24:00',
      },
    },
    {
      type: 'contact',
      directives: {
        contact_name: 'hawatch-admin',
        alias: 'hawatch administrator',
        email: opts.contactEmail ?? 'root@localhost',
        host_notifications_enabled: false,
        service_notifications_enabled: false,
        host_notification_period: '24x7',
        service_notification_period: '24x7',
        host_notification_options: 'n',
        service_notification_options: 'n',
        host_notification_commands: 'hawatch-notify-none',
        service_notification_commands: 'hawatch-notify-none',
      },
    },
    { type: 'command', directives: { command_name: 'hawatch-notify-none', command_line: '/bin/true' } },
    {
      type: 'host',
      directives: {
        name: 'hawatch-host',
        register: false,
        check_period: '24x7',
        max_check_attempts: 3,
        check_interval: 5,
        retry_interval: 1,
        notification_period: '24x7',
        notification_interval: 0,
        notifications_enabled: false,
        contacts: 'hawatch-admin',
      },
    },
    {
      type: 'service',
      directives: {
        name: 'hawatch-service',
        register: false,
        check_period: '24x7',
        max_check_attempts: 3,
        check_interval: 1,
        retry_interval: 1,
        notification_period: '24x7',
        notification_interval: 0,
        notifications_enabled: false,
        contacts: 'hawatch-admin',
      },
    },
  ];
}

export interface NagiosMainConfig {
  /** Where Nagios keeps its state: status.dat, logs, check results, the command pipe. */
  readonly varDir: string;
  readonly cfgFiles: readonly string[];
  readonly resourceFile?: string;
  readonly nagiosUser?: string;
  readonly nagiosGroup?: string;
  /** Seconds between status.dat updates. Default 10. */
  readonly statusUpdateInterval?: number;
  /** Directives to add or override (service_check_timeout, check_workers, ...). */
  readonly extra?: Readonly<Record<string, DirectiveValue>>;
}

/** A self-contained nagios.cfg: no syslog, no retention, no update check, everything under varDir. */
export function renderNagiosMainConfig(c: NagiosMainConfig): string {
  const v = c.varDir.replace(/\/+$/, '');
  const base: Record<string, DirectiveValue> = {
    log_file: `${v}/nagios.log`,
    object_cache_file: `${v}/objects.cache`,
    precached_object_file: `${v}/objects.precache`,
    resource_file: c.resourceFile,
    status_file: `${v}/status.dat`,
    status_update_interval: c.statusUpdateInterval ?? 10,
    nagios_user: c.nagiosUser ?? 'nagios',
    nagios_group: c.nagiosGroup ?? 'nagios',
    check_external_commands: false,
    command_file: `${v}/nagios.cmd`,
    query_socket: `${v}/nagios.qh`,
    lock_file: `${v}/nagios.pid`,
    temp_file: `${v}/nagios.tmp`,
    temp_path: v,
    check_result_path: `${v}/checkresults`,
    log_rotation_method: 'n',
    log_archive_path: v,
    use_syslog: false,
    log_initial_states: false,
    log_current_states: false,
    log_passive_checks: false,
    retain_state_information: false,
    state_retention_file: `${v}/retention.dat`,
    interval_length: 60,
    check_for_updates: false,
    bare_update_check: false,
    enable_notifications: false,
    enable_event_handlers: false,
    enable_flap_detection: false,
    check_service_freshness: false,
    check_host_freshness: false,
    process_performance_data: false,
    execute_service_checks: true,
    execute_host_checks: true,
    accept_passive_service_checks: false,
    accept_passive_host_checks: false,
    service_check_timeout: 60,
    service_check_timeout_state: 'c',
    host_check_timeout: 30,
    date_format: 'iso8601',
    illegal_object_name_chars: ILLEGAL_OBJECT_NAME_CHARS,
    illegal_macro_output_chars: '`~$&|\'"<>',
    admin_email: 'root@localhost',
    admin_pager: 'root@localhost',
    debug_level: 0,
    debug_file: `${v}/nagios.debug`,
    ...c.extra,
  };
  const lines = ['# Generated by hawatch: edits will be overwritten.'];
  for (const f of c.cfgFiles) lines.push(`cfg_file=${noLineBreak('cfg_file', f)}`);
  for (const [k, val] of Object.entries(base)) {
    if (val === undefined) continue;
    if (!/^[a-z0-9_]+$/.test(k)) throw new ConfigRenderError(`invalid nagios.cfg directive '${k}'`);
    // nagios.cfg has no comment stripping inside values, but no line breaks either.
    const text = typeof val === 'boolean' ? (val ? '1' : '0') : typeof val === 'number' ? String(val) : typeof val === 'string' ? val : val.join(',');
    lines.push(`${k}=${noLineBreak(k, text)}`);
  }
  return lines.join('\n') + '\n';
}

export interface NrpeConfig {
  readonly serverPort?: number;
  readonly serverAddress?: string;
  readonly allowedHosts?: readonly string[];
  readonly nrpeUser?: string;
  readonly nrpeGroup?: string;
  readonly pidFile?: string;
  readonly logFile?: string;
  readonly debug?: boolean;
  readonly dontBlameNrpe?: boolean;
  readonly commandTimeout?: number;
  readonly connectionTimeout?: number;
  readonly listenQueueSize?: number;
  readonly ssl?: {
    readonly version?: string;
    readonly useAdh?: 0 | 1 | 2;
    readonly cipherList?: string;
    readonly certFile?: string;
    readonly privateKeyFile?: string;
    readonly caCertFile?: string;
    /** 0 no, 1 ask, 2 require. */
    readonly clientCerts?: 0 | 1 | 2;
  };
  /** name -> command line ($ARGn$ macros for arguments). */
  readonly commands: Readonly<Record<string, string>>;
  /** More key=value lines, rendered as given (validated). */
  readonly extra?: Readonly<Record<string, string | number>>;
}

/** Renders an nrpe.cfg that stock nrpe 4.x and hawatch-agent both read. */
export function renderNrpeConfig(c: NrpeConfig): string {
  const lines: string[] = ['# Generated by hawatch: edits will be overwritten.'];
  const put = (k: string, v: string | number | boolean | undefined): void => {
    if (v === undefined) return;
    const text = typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
    lines.push(`${k}=${noLineBreak(`nrpe.cfg ${k}`, text)}`);
  };
  put('log_file', c.logFile);
  put('debug', c.debug);
  put('pid_file', c.pidFile);
  put('server_port', c.serverPort);
  put('server_address', c.serverAddress);
  if (c.allowedHosts) {
    for (const h of c.allowedHosts) if (/[\s,]/.test(h) || h === '') throw new ConfigRenderError(`allowed host '${h}' contains a blank or a comma`);
    put('allowed_hosts', c.allowedHosts.join(','));
  }
  put('nrpe_user', c.nrpeUser);
  put('nrpe_group', c.nrpeGroup);
  put('dont_blame_nrpe', c.dontBlameNrpe);
  put('command_timeout', c.commandTimeout);
  put('connection_timeout', c.connectionTimeout);
  put('listen_queue_size', c.listenQueueSize);
  if (c.ssl) {
    put('ssl_version', c.ssl.version);
    put('ssl_use_adh', c.ssl.useAdh);
    put('ssl_cipher_list', c.ssl.cipherList);
    put('ssl_cert_file', c.ssl.certFile);
    put('ssl_privatekey_file', c.ssl.privateKeyFile);
    put('ssl_cacert_file', c.ssl.caCertFile);
    put('ssl_client_certs', c.ssl.clientCerts);
  }
  for (const [k, v] of Object.entries(c.extra ?? {})) {
    if (!/^[a-z0-9_]+$/.test(k)) throw new ConfigRenderError(`invalid nrpe.cfg key '${k}'`);
    put(k, v);
  }
  for (const [name, line] of Object.entries(c.commands)) {
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new ConfigRenderError(`NRPE command name '${name}' may only use letters, digits, '_', '.' and '-'`);
    if (line.trim() === '') throw new ConfigRenderError(`NRPE command '${name}' has an empty command line`);
    put(`command[${name}]`, line);
  }
  return lines.join('\n') + '\n';
}
