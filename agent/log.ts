/**
 * Structured logs: one JSON object per line, to stderr (journald) or to log_file (reopened
 * on SIGHUP, so logrotate can move it away).
 */
import { createWriteStream, type WriteStream } from 'node:fs';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, string | number | boolean | undefined | null>;

export interface Logger {
  log(level: LogLevel, msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  setLevel(level: LogLevel): void;
  /** Write to this file from now on (undefined: stderr); reopens it when called again. */
  setFile(path: string | undefined): Promise<void>;
  close(): Promise<void>;
}

export function createLogger(level: LogLevel = 'info', sink?: (line: string) => void): Logger {
  let min = ORDER[level];
  let file: WriteStream | undefined;
  const write = (line: string): void => {
    if (sink) sink(line);
    else if (file) file.write(line);
    else process.stderr.write(line);
  };
  const closeFile = (): Promise<void> =>
    new Promise((resolve) => {
      if (!file) return resolve();
      const f = file;
      file = undefined;
      f.end(() => resolve());
    });
  const logger: Logger = {
    log(lv, msg, fields) {
      if (ORDER[lv] < min) return;
      const rec: Record<string, unknown> = { time: new Date().toISOString(), level: lv, msg };
      if (fields) for (const [k, v] of Object.entries(fields)) if (v !== undefined) rec[k] = v;
      write(JSON.stringify(rec) + '\n');
    },
    debug: (m, f) => logger.log('debug', m, f),
    info: (m, f) => logger.log('info', m, f),
    warn: (m, f) => logger.log('warn', m, f),
    error: (m, f) => logger.log('error', m, f),
    setLevel(lv) {
      min = ORDER[lv];
    },
    async setFile(path) {
      await closeFile();
      if (path === undefined) return;
      const stream = createWriteStream(path, { flags: 'a', mode: 0o640 });
      await new Promise<void>((resolve, reject) => {
        stream.once('open', () => resolve());
        stream.once('error', reject);
      });
      stream.on('error', (e) => {
        process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: 'log file write failed; logging to stderr', file: path, error: e.message }) + '\n');
        if (file === stream) file = undefined;
      });
      file = stream;
    },
    close: closeFile,
  };
  return logger;
}
