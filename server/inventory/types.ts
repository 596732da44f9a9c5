import type { HaSettings } from '../ha/config.ts';
/** The inventory after validation: every default resolved, every reference checked. */
import type { InhibitTarget } from '../state/inhibition.ts';
import type { StateCode } from '../../nagios/states.ts';
import type { Transport } from '../executors/types.ts';
import type { CheckPolicy, NotificationOption } from '../state/types.ts';
import type { EscalationConfig } from '../notify/escalations.ts';
import type { TimePeriod } from '../notify/timeperiods.ts';

/** notification_period, check_period and escalations of a host, service or rule (server/inventory/timing.ts). */
export interface ObjectTiming {
  /** Time period name; absent = 24x7. Problem notifications outside it are held until it opens. */
  readonly notificationPeriod?: string | undefined;
  /** Time period name; absent = 24x7. Regular active checks run only inside it. */
  readonly checkPeriod?: string | undefined;
  readonly escalations?: readonly EscalationConfig[] | undefined;
}
import type { DependencyConfig } from '../state/dependencies.ts';

export interface CommandSpec {
  /** The command line as written (for display). */
  readonly line: string;
  /** Tokens of the line, macros not yet expanded (expansion is per token, no shell). */
  readonly argv: readonly [string, ...string[]];
  /** Values of $ARG1$..$ARGn$. */
  readonly args: readonly string[];
}

export interface HostConfig extends ObjectTiming {
  readonly name: string;
  readonly address: string;
  readonly transport: Transport;
  /**
   * Host check; null = no check (the host is shown UP with "no host check", never silently).
   * Without `check:` an NRPE host gets `_NRPE_CHECK`, an SSH host a login (see checkSource).
   */
  readonly check: CommandSpec | null;
  /** Where the host check comes from: written, the transport's default, or none (local, check: none, virtual). */
  readonly checkSource: 'configured' | 'default' | 'none';
  /** Without a check: the status output that says why the host shows UP (never silently). */
  readonly noCheckNote: string | null;
  readonly policy: CheckPolicy;
  readonly contacts: readonly string[];
  /** Cluster-rule hosts: no transport, never checked, always UP. */
  readonly virtual: boolean;
  /** Results come only from outside (API, NRDP): never checked, pending until the first, stale after its freshness threshold. */
  readonly passive?: boolean | undefined;
  /** push_token_file: this host's agent pushes its results with the token in it, for this host only. */
  readonly pushTokenFile?: string | null | undefined;
  readonly timeoutMs: number;
  /** Nagios parents: the hosts in front of this one (a failed check is UNREACHABLE when all are down). */
  readonly parents?: readonly string[] | undefined;
}

export interface ServiceConfig extends ObjectTiming {
  readonly key: string;
  readonly hostName: string;
  readonly name: string;
  readonly command: CommandSpec;
  readonly policy: CheckPolicy;
  readonly contacts: readonly string[];
  readonly timeoutMs: number;
  /** Results come only from outside (API, NRDP): never scheduled; `command` is unused. */
  readonly passive?: boolean | undefined;
  /** confirm: a pushed problem goes HARD only after `results` problem results within `withinMs` (server/state/confirm.ts). */
  readonly confirm?: { readonly results: number; readonly withinMs: number } | undefined;
  /** `metrics: false`: its perfdata is not exported on /metrics (its state still is). */
  readonly metrics?: boolean | undefined;
  /**
   * `server`: the command runs on the admin node (as every Nagios check does), against the
   * host's address, whatever the host's transport: check_http through a VIP, check_ssh on
   * the nodes' SSH port, check_nrpe itself. Default `host`: over the host's transport.
   */
  readonly runOn?: 'host' | 'server' | undefined;
}

export type SmsRoute = 'gateway' | 'http' | 'smstools';

export interface ContactConfig {
  readonly name: string;
  readonly email: string | null;
  /** Phone number in international form, for SMS. */
  readonly sms: string | null;
  readonly smsVia: SmsRoute | null;
  readonly hostOptions: readonly NotificationOption[];
  readonly serviceOptions: readonly NotificationOption[];
  /** Nagios host_notification_period / service_notification_period; absent = 24x7. */
  readonly hostNotificationPeriod?: string | undefined;
  readonly serviceNotificationPeriod?: string | undefined;
}

export type MemberMatch =
  | { readonly kind: 'state'; readonly states: readonly StateCode[] }
  | { readonly kind: 'perfdata'; readonly label: string; readonly equals?: number | undefined; readonly min?: number | undefined; readonly max?: number | undefined }
  | { readonly kind: 'output'; readonly pattern: string };

/**
 * How a rule judges its members. `count`: how many members match (match + expect, the
 * original form). `role`: the sum over members of the perfdata values whose label matches a
 * glob (0/1 role gauges such as vip_owned, r0_primary), between min and max. `all_agree`: one
 * value per member (a perfdata value or the first group of a regex on the output) must be
 * equal on all. `quorum`: more than half of the members OK.
 */
export type RuleJudge =
  | { readonly kind: 'count' }
  | { readonly kind: 'role'; readonly role: string }
  | { readonly kind: 'all_agree'; readonly value: { readonly perfdata: string } | { readonly output: string } }
  | { readonly kind: 'quorum' };

/** A bad judgement goes HARD (and notifies) only after this many in a row and this long. */
export interface HoldDown {
  readonly results: number;
  readonly timeMs: number;
}

export interface ClusterRuleConfig extends ObjectTiming {
  /** exactly_one, at_least, at_most, all_agree, quorum, or count (match + expect). */
  readonly kindName: string;
  readonly judge: RuleJudge;
  readonly holdDown: HoldDown;
  /** true when the rule names no contacts: it notifies the union of its member hosts' contacts. */
  readonly inheritedContacts: boolean;
  readonly key: string;
  readonly name: string;
  readonly hostName: string;
  readonly description: string;
  readonly members: readonly { readonly hostName: string; readonly serviceName: string; readonly key: string }[];
  readonly match: MemberMatch;
  /** How many members must match, inclusive. */
  readonly min: number;
  readonly max: number;
  readonly violationState: StateCode;
  readonly policy: CheckPolicy;
  readonly contacts: readonly string[];
  /** Objects whose problem notifications this rule holds while it is a HARD problem (server/state/inhibition.ts). */
  readonly inhibits?: readonly InhibitTarget[] | undefined;
}

export interface RecurringDowntime {
  readonly name: string;
  readonly cron: string;
  readonly durationMs: number;
  readonly keys: readonly string[];
  readonly comment: string;
}

export interface SmtpConfig {
  readonly host: string;
  readonly port: number;
  /** 'tls' = implicit TLS (465); 'starttls' = require STARTTLS; 'none' = plain (loopback relays only). */
  readonly security: 'tls' | 'starttls' | 'none';
  readonly user: string | null;
  /** Secret source: env variable name or file path, never the secret itself. */
  readonly passwordEnv: string | null;
  readonly passwordFile: string | null;
  readonly caFile: string | null;
  readonly from: string;
  readonly timeoutMs: number;
}

export interface HttpSmsConfig {
  readonly url: string;
  readonly method: 'POST' | 'PUT';
  readonly authHeaderEnv: string | null;
  readonly authHeaderFile: string | null;
  /** JSON or form body with {{number}}, {{message}}, {{from}} placeholders (values JSON/form-escaped). */
  readonly bodyTemplate: string;
  readonly contentType: string;
  readonly timeoutMs: number;
  readonly from: string | null;
}

export interface NotifierConfig {
  readonly email: SmtpConfig | null;
  /** Email-to-SMS gateway address pattern, e.g. "{number}@sms.example.net". */
  readonly smsGateway: string | null;
  readonly smsHttp: HttpSmsConfig | null;
  readonly smstoolsSpool: string | null;
  /** Septets of one SMS body (GSM-7, extension characters count two). */
  readonly smsMaxLength: number;
  /** Concatenated parts a body may take (1: never split). */
  readonly smsMaxParts?: number | undefined;
  /** Notifications to one contact within this window are held and may be grouped. */
  readonly groupWindowMs: number;
  /** More than this many held for one contact and channel become one digest message. */
  readonly groupThreshold: number;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  readonly dailySummary: { readonly cron: string; readonly contacts: readonly string[] } | null;
}

export interface ServerSettings {
  readonly listenHost: string;
  readonly listenPort: number;
  /** better-sqlite3 file (':memory:' keeps nothing across restarts), or a postgres:// URL. */
  readonly database: string;
  /** The PostgreSQL password's file (first line); else $PGPASSWORD. Never in the URL. */
  readonly databasePasswordFile?: string | null;
  readonly apiTokenEnv: string;
  readonly apiTokenFile: string | null;
  readonly maxConcurrentChecks: number;
  readonly timeoutState: StateCode;
  readonly macros: Readonly<Record<string, string>>;
  readonly title: string;
  /** The store must fail this long before the contacts get the degraded alert. */
  readonly degradedAlertAfterMs: number;
  /** Live event streams (GET /api/v1/events) allowed per client address and in total. */
  readonly sseMaxPerSource: number;
  readonly sseMaxTotal: number;
  /** /metrics perfdata gauges: at most this many labels per service and series in total (bounded cardinality). */
  readonly metricsMaxLabelsPerService: number;
  readonly metricsMaxSeries: number;
  /**
   * The whole environment of local checks, as Nagios gives its plugins: PATH, LANG and LC_ALL
   * by default, plus or overriding what server.check_environment names. Nothing else of the
   * server's environment (API token, SMTP password) reaches a plugin.
   */
  readonly checkEnvironment: Readonly<Record<string, string>>;
  /** NRDP tokens (server.passive_tokens), and/or a file with one per line, read when used. */
  readonly passiveTokens?: readonly string[] | undefined;
  readonly passiveTokensFile?: string | null | undefined;
  /** IANA zone in which time periods are read (server.timezone); default the process's. */
  readonly timezone?: string | undefined;
  /** server.tls: the listener speaks HTTPS (PEM files, read once at start). */
  readonly tls?: { readonly certFile: string; readonly keyFile: string } | null | undefined;
  /** Several instances on one PostgreSQL (server/ha); null or absent: one instance. */
  readonly ha?: HaSettings | null | undefined;
}

export interface Inventory {
  readonly source: string;
  readonly server: ServerSettings;
  readonly notifier: NotifierConfig;
  readonly hosts: ReadonlyMap<string, HostConfig>;
  readonly services: ReadonlyMap<string, ServiceConfig>;
  readonly contacts: ReadonlyMap<string, ContactConfig>;
  readonly contactGroups: ReadonlyMap<string, readonly string[]>;
  readonly clusterRules: ReadonlyMap<string, ClusterRuleConfig>;
  readonly downtimes: readonly RecurringDowntime[];
  /** Time periods by name (`timeperiods:`), 24x7 always among them. */
  readonly timeperiods?: ReadonlyMap<string, TimePeriod> | undefined;
  /** Host and service dependencies (server/state/dependencies.ts). */
  readonly dependencies?: readonly DependencyConfig[] | undefined;
  /** Things that work but deserve a look (unverified TLS, plain SMTP off loopback). */
  readonly warnings: readonly string[];
}

export function serviceKey(hostName: string, serviceName: string): string {
  return `${hostName}/${serviceName}`;
}
