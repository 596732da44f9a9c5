/**
 * The executors and how the scheduler gets one.
 *
 * `createExecutor(transport)` is the ExecutorFactory of types.ts: a new executor for that
 * transport's kind. `ExecutorPool` is an Executor that routes each request by its
 * transport, sharing one executor per kind: the SSH executor keeps one connection per
 * user@host:port inside, the NRPE executor its TLS sessions per agent, so one pool for the
 * whole inventory is enough.
 */
import { State } from '../../nagios/states.ts';
import { LocalExecutor, type LocalExecutorOptions } from './local.ts';
import { failureOutcome } from './outcome.ts';
import { NrpeExecutor, type NrpeExecutorOptions } from './nrpe.ts';
import { SshExecutor, type SshExecutorOptions } from './ssh.ts';
import type { CheckOutcome, CheckRequest, Executor, ExecutorFactory, Transport, TransportKind } from './types.ts';

export type * from './types.ts';
export { LocalExecutor, NrpeExecutor, SshExecutor };
export { commandLineToArgv, splitCommandLine, substituteMacros, CommandLineError } from '../../nagios/commandline.ts';

export interface ExecutorOptions {
  readonly nrpe?: NrpeExecutorOptions;
  readonly ssh?: SshExecutorOptions;
  readonly local?: LocalExecutorOptions;
}

export function createExecutorForKind(kind: TransportKind, options: ExecutorOptions = {}): Executor {
  switch (kind) {
    case 'nrpe': return new NrpeExecutor(options.nrpe);
    case 'ssh': return new SshExecutor(options.ssh);
    case 'local': return new LocalExecutor(options.local);
  }
}

export const createExecutor: ExecutorFactory = (transport: Transport) => createExecutorForKind(transport.kind);

/** Creates an ExecutorFactory with non-default options. */
export function executorFactory(options: ExecutorOptions): ExecutorFactory {
  return (transport) => createExecutorForKind(transport.kind, options);
}

export class ExecutorPool implements Executor {
  private readonly executors = new Map<TransportKind, Executor>();
  private readonly options: ExecutorOptions;
  private closed = false;

  constructor(options: ExecutorOptions = {}) {
    this.options = options;
  }

  /** The executor for a transport kind, created on first use. */
  executorFor(kind: TransportKind): Executor {
    let e = this.executors.get(kind);
    if (!e) {
      e = createExecutorForKind(kind, this.options);
      this.executors.set(kind, e);
    }
    return e;
  }

  async run(req: CheckRequest): Promise<CheckOutcome> {
    if (this.closed) return failureOutcome('aborted', State.UNKNOWN, 'check not run: the server is shutting down', Date.now(), performance.now());
    return this.executorFor(req.transport.kind).run(req);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.executors.values()].map((e) => e.close()));
  }
}
