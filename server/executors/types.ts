/**
 * The contract between the scheduler and the remote executors (NRPE, SSH, local).
 *
 * The inventory resolves every default before a request is built, so an executor never
 * invents a setting: what it gets is what it uses. Executors NEVER throw for a failed
 * check: a dead peer, a refused connection, a timeout, a bad host key all become a
 * CheckOutcome with a clear first line (as check_nrpe prints "CHECK_NRPE: Error - Could
 * not connect to 192.0.2.1: Connection refused") and the state the transport says
 * (`unreachableState`, `timeoutState`). Only programming errors may reject.
 */
import type { PluginRun } from '../../nagios/output.ts';
import type { StateCode } from '../../nagios/states.ts';

/** NRPE over TLS (the default, as check_nrpe) or plain TCP. */
export interface NrpeTlsConfig {
  /** false = plain TCP (check_nrpe -n); both sides must agree. */
  readonly enabled: boolean;
  /**
   * Verify the agent's certificate against `caFile` (check_nrpe -A). When false the
   * connection is encrypted but unauthenticated, like stock check_nrpe (anonymous DH
   * allowed); the inventory warns about it.
   */
  readonly verify: boolean;
  /** PEM CA bundle (path) used when `verify` is true. */
  readonly caFile?: string | undefined;
  /** PEM client certificate and key (check_nrpe -C / -K), for ssl_client_certs=2 agents. */
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
  /** Name checked against the agent certificate; default the host address. */
  readonly serverName?: string | undefined;
  /** OpenSSL cipher list; default Node's, plus ADH at SECLEVEL=0 when `verify` is false. */
  readonly ciphers?: string | undefined;
}

export interface NrpeTransport {
  readonly kind: 'nrpe';
  readonly port: number;
  readonly tls: NrpeTlsConfig;
  /**
   * Packet version to send first. 4 = like check_nrpe 4.x: v4, and on failure one
   * reconnect with v2. 2 or 3 = only that version (check_nrpe -2 / -3).
   */
  readonly packetVersion: 2 | 3 | 4;
  /** State when the agent cannot be reached (refused, reset, TLS failure); check_nrpe -u = UNKNOWN. */
  readonly unreachableState: StateCode;
}

export interface SshTransport {
  readonly kind: 'ssh';
  readonly port: number;
  readonly user: string;
  /** Path of the private key (OpenSSH or PEM format). Never inline. */
  readonly privateKeyFile: string;
  /** Path of a file holding the key's passphrase, when the key is encrypted. */
  readonly passphraseFile?: string | undefined;
  /**
   * The pinned host key: either a known_hosts style public key ("ssh-ed25519 AAAA...")
   * or an OpenSSH fingerprint ("SHA256:base64"). A mismatch refuses the connection and
   * the check reports it (state `unreachableState`, output names the fingerprint seen).
   */
  readonly hostKey: string;
  readonly unreachableState: StateCode;
}

export interface LocalTransport {
  readonly kind: 'local';
}

export type Transport = NrpeTransport | SshTransport | LocalTransport;
export type TransportKind = Transport['kind'];

/**
 * What to run. `argv` for local and ssh: the program and its arguments, macros already
 * expanded per argument (no shell on our side; the SSH executor quotes each argument for
 * the remote shell). `nrpe`: the remote command name and its arguments ($ARG1$.. on the
 * agent, at most 16, which the agent refuses unless dont_blame_nrpe=1).
 */
export type CheckCommand =
  | { readonly kind: 'argv'; readonly argv: readonly [string, ...string[]] }
  | { readonly kind: 'nrpe'; readonly command: string; readonly args: readonly string[] };

export interface CheckRequest {
  /** Inventory name of the host (for messages and connection reuse). */
  readonly hostName: string;
  /** Address to connect to (IP or DNS name); unused by the local executor. */
  readonly address: string;
  readonly transport: Transport;
  readonly command: CheckCommand;
  /** The whole check, connect included, must end within this time. */
  readonly timeoutMs: number;
  /** State of a check that ran out of time (Nagios 4: service_check_timeout_state=c). */
  readonly timeoutState: StateCode;
  /** Aborts the check (server shutdown); the outcome is then UNKNOWN. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Local checks: their whole environment (server.check_environment, by default PATH, LANG
   * and LC_ALL as Nagios gives plugins). Nothing of the server's own environment is added.
   */
  readonly environment?: Readonly<Record<string, string>> | undefined;
}

/** Why the check did not produce a plugin result of its own; absent when it did. */
export type ExecutorFailure = 'connect' | 'timeout' | 'tls' | 'auth' | 'hostkey' | 'protocol' | 'spawn' | 'aborted';

export interface CheckOutcome extends PluginRun {
  /** Wall time from the start of the request to the outcome. */
  readonly durationMs: number;
  /** When the check started, epoch milliseconds. */
  readonly executedAt: number;
  readonly failure?: ExecutorFailure | undefined;
}

export interface Executor {
  run(req: CheckRequest): Promise<CheckOutcome>;
  /** Closes pooled connections; runs in progress finish or are aborted. */
  close(): Promise<void>;
}

/**
 * server/executors/index.ts exports `createExecutor` with this shape. The scheduler
 * creates one executor per host (so an SSH executor may keep its connection open) and
 * passes the same transport again in every request; an implementation may look only at
 * `transport.kind` here.
 */
export type ExecutorFactory = (transport: Transport) => Executor;
