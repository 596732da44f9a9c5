/**
 * The composition root: from a validated inventory to running services (store, monitor,
 * scheduler, notifier, cron, HTTP app). main.ts adds listening and signals; tests use this
 * with a fake clock, fake executors or a real SMTP server.
 */
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { buildApp } from '../app.ts';
import type { ExecutorFactory } from '../executors/types.ts';
import type { Inventory } from '../inventory/types.ts';
import { createSmtpSender, type MailSender } from '../notify/channels.ts';
import { channelsFor, Dispatcher, type Channels } from '../notify/dispatcher.ts';
import { Scheduler } from '../scheduler/scheduler.ts';
import { systemClock, type Clock } from '../state/clock.ts';
import { openStore } from '../store/open.ts';
import type { AnyStore } from '../store/types.ts';
import { startCron } from './cron.ts';
import { loadStored, Monitor } from './monitor.ts';
import { StoreHealth } from './health.ts';
import { DegradedAlert } from '../notify/degraded.ts';
import { PerfdataRecorder } from './perfdata-history.ts';
import { readFileSync } from 'node:fs';

/** A PEM file of server.tls, with a message that names the setting when it cannot be read. */
function readPem(file: string, key: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new Error(`server.tls.${key} ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): fix the path or its permissions`);
  }
}
import { HaCoordinator } from '../ha/coordinator.ts';
import type { PostgresStore } from '../store/postgres.ts';
import { within } from './bounded.ts';

export interface RuntimeOptions {
  readonly inventory: Inventory;
  readonly executorFactory: ExecutorFactory;
  /** Overrides inventory.server.database (tests, --data). */
  readonly database?: string;
  readonly clock?: Clock;
  readonly apiToken?: () => string | null;
  /** Re-reads the inventory source; null for the embedded default. */
  readonly loadInventory?: (() => Promise<Inventory>) | null;
  readonly runtimeMacros?: Readonly<Record<string, string>>;
  readonly logger?: FastifyServerOptions['logger'];
  /** Replaces the SMTP sender (tests). */
  readonly mailSender?: MailSender | null;
  readonly version?: string;
  /** Start the scheduler, dispatcher and cron (default true). */
  readonly autoStart?: boolean;
  readonly tickMs?: number;
  readonly dispatchPollMs?: number;
  /** How long the store must fail before the contacts get the degraded alert (default 60 s). */
  readonly degradedAlertAfterMs?: number;
}

export interface Runtime {
  readonly app: FastifyInstance;
  readonly monitor: Monitor;
  readonly scheduler: Scheduler;
  readonly dispatcher: Dispatcher;
  readonly store: AnyStore;
  readonly health: StoreHealth;
  /** Several instances (server.ha); null for one. */
  readonly ha: HaCoordinator | null;
  /** Re-reads and applies the inventory (SIGHUP, POST /reload); null on the embedded inventory. */
  readonly reload: (() => Promise<Inventory>) | null;
  start(): void;
  stop(): Promise<void>;
}

export async function createRuntime(o: RuntimeOptions): Promise<Runtime> {
  const clock = o.clock ?? systemClock();
  // app does not exist yet while the store opens and the monitor loads: log to stderr until then.
  // Lines from before the app (and its logger) exists are kept and replayed into it.
  let app: FastifyInstance | null = null;
  const early: ['info' | 'warn' | 'error', string][] = [];
  const log = (level: 'info' | 'warn' | 'error', msg: string) => {
    if (app) app.log[level](msg);
    else early.push([level, msg]);
  };
  try {
    return await build();
  } catch (e) {
    for (const [, msg] of early) process.stderr.write(`hawatch-server: ${msg}\n`);
    throw e;
  }

  async function build(): Promise<Runtime> {
    const database = o.database ?? o.inventory.server.database;
    const store = await openStore(database, { passwordFile: o.inventory.server.databasePasswordFile ?? undefined, now: () => clock.now(), log });
    const health = new StoreHealth(clock, log, `the database ${store.describe ?? database}`);
    const haSettings = o.inventory.server.ha ?? null;
    const pgStore = 'ha' in store ? (store as PostgresStore) : null;
    if (haSettings && !pgStore) {
      await store.close();
      throw new Error(`server.ha needs a postgres:// database, not ${store.describe ?? database}: the instances share one PostgreSQL`);
    }
    // Several instances: nothing is written before this instance holds shards (the coordinator's fence replaces this).
    if (haSettings && pgStore) pgStore.ha.fence = () => ({ owner: '', asked: [], shardOf: () => -2, done: () => {} });
    const monitor = new Monitor(o.inventory, store, clock, health, await loadStored(store));
    let mail: MailSender | null = o.mailSender !== undefined ? o.mailSender : o.inventory.notifier.email ? await createSmtpSender(o.inventory.notifier.email) : null;
    let channels: Channels = channelsFor(o.inventory, mail);
    const scheduler = new Scheduler({
      monitor,
      clock,
      executorFactory: o.executorFactory,
      runtimeMacros: o.runtimeMacros,
      tickMs: o.tickMs,
      onError: (m) => log('warn', m),
    });
    const dispatcher = new Dispatcher({ store, clock, inventory: () => monitor.inventory, channels: () => channels, pollMs: o.dispatchPollMs, log, health });
    const degradedAlert = new DegradedAlert({ health, monitor, clock, channels: () => channels, afterMs: o.degradedAlertAfterMs ?? o.inventory.server.degradedAlertAfterMs, log });
    monitor.on((e) => {
      if (e.type === 'notifications') dispatcher.poke();
    });
    const ha =
      haSettings && pgStore
        ? new HaCoordinator({ settings: haSettings, store: pgStore, monitor, scheduler, passwordFile: o.inventory.server.databasePasswordFile ?? undefined, log, info: { version: o.version ?? '0.0.0', listen: `${o.inventory.server.listenHost}:${o.inventory.server.listenPort}`, pid: process.pid } })
        : null;
    if (ha) {
      try {
        await ha.prepare();
      } catch (e) {
        await store.close();
        throw e;
      }
    }
    const perfdata = new PerfdataRecorder({ source: monitor, store: () => store.perfdata, clock, log });
    perfdata.listen();
    let stopCron: (() => Promise<void>) | null = null;
    const loader = o.loadInventory ?? null;
    const reload = loader
      ? async () => {
          const inv = await loader(); // throws InventoryError: nothing changes
          const nextMail = o.mailSender !== undefined ? o.mailSender : inv.notifier.email ? await createSmtpSender(inv.notifier.email) : null;
          if (mail && mail !== nextMail) mail.close();
          mail = nextMail;
          channels = channelsFor(inv, mail);
          monitor.reload(inv);
          scheduler.plan();
          monitor.evaluateClusterRules();
          if (stopCron) {
            await stopCron();
            stopCron = startCron(monitor, inv, (m) => log('info', m));
          }
          log('info', `inventory reloaded: ${inv.hosts.size} hosts, ${inv.services.size} services`);
          return inv;
        }
      : null;
    const tls = o.inventory.server.tls;
    const built = await buildApp({
      logger: o.logger,
      // Read once: a new certificate needs a restart (the listener is made at start).
      https: tls ? { key: readPem(tls.keyFile, 'key_file'), cert: readPem(tls.certFile, 'cert_file') } : null,
      services: { monitor, store, clock, scheduler, dispatcher, health, ha, apiToken: o.apiToken ?? (() => null), reload, version: o.version ?? '0.0.0' },
    });
    app = built;
    for (const [level, msg] of early.splice(0)) built.log[level](msg);
    let started = false;
    const rt: Runtime = {
      app: built,
      monitor,
      scheduler,
      dispatcher,
      store,
      health,
      ha,
      reload,
      start() {
        if (started) return;
        started = true;
        scheduler.start();
        dispatcher.start();
        perfdata.start();
        stopCron = startCron(monitor, monitor.inventory, (m) => log('info', m));
        if (ha) void ha.start();
      },
      async stop() {
        await scheduler.stop();
        if (stopCron) await stopCron();
        await within(2000, dispatcher.stop(), () => log('warn', 'stopping without waiting for the delivery in progress: it did not end within 2 s'));
        perfdata.stop();
        degradedAlert.close();
        // What a store answering later (PostgreSQL) still has in flight is written first, within
        // 3 s: an unreachable database must not hold the stop (the checks run again after it).
        await within(3000, monitor.flushed(), () => {
          log('warn', 'stopping without the last writes: the store did not take them within 3 s');
          monitor.close();
        });
        // Shards given back only after the last writes (fenced by the lease still held).
        await ha?.stop();
        monitor.close();
        await built.close();
        mail?.close();
        await store.close();
      },
    };
    if (o.autoStart ?? true) rt.start();
    return rt;
  }
}
