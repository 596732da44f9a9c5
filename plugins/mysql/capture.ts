/**
 * The collector's raw output: the rows exactly as each server returned them, so a capture
 * from any server version can be replayed with `--input-file` and parsed by the same code.
 */

export type RawRow = Record<string, unknown>;

export interface RawSample {
  /** Client clock (Unix seconds) half-way through the NOW() query. */
  readonly clientTime: number;
  /** Server clock: UNIX_TIMESTAMP(NOW(6)). */
  readonly serverTime: number;
  /** The statement that produced `replicaStatus` (SHOW ALL SLAVES STATUS, SHOW REPLICA STATUS, ...). */
  readonly replicaStatusStatement?: string;
  readonly replicaStatus: readonly RawRow[];
  readonly binlogStatus?: readonly RawRow[];
  readonly binlogStatusError?: string;
  /** Rows of the heartbeat table: server_id and UNIX_TIMESTAMP(ts). */
  readonly heartbeat?: readonly RawRow[];
  readonly heartbeatError?: string;
}

export interface RawServer {
  /** The label of the server (what was given with -H). */
  readonly target: string;
  /** `host:port` or the socket path connected to: matches Master_Host/Master_Port of peers. */
  readonly address?: string;
  /** SHOW GLOBAL VARIABLES rows flattened to name -> value. */
  readonly variables?: Readonly<Record<string, string>>;
  /** SHOW GLOBAL STATUS rows flattened to name -> value. */
  readonly status?: Readonly<Record<string, string>>;
  /** First sample, and a later one when progress or a fresh heartbeat was waited for. */
  readonly samples?: readonly RawSample[];
  readonly heartbeatWrite?: { readonly ts?: number; readonly error?: string; readonly skipped?: string };
  readonly error?: { readonly kind: string; readonly message: string; readonly code?: string };
}

export interface Capture {
  readonly format: 'hawatch-mysql/1';
  readonly heartbeatTable?: string;
  readonly servers: readonly RawServer[];
}

export const CAPTURE_FORMAT = 'hawatch-mysql/1';
