/**
 * Reading a file a user named (--input-file, a saved output, a policy, a password file):
 * bounded, regular files only, abortable.
 *
 * fs.readFile is not used on purpose: on /dev/zero it grows until the process dies, and on a
 * FIFO or a terminal it blocks a libuv threadpool thread for good (four such reads and every
 * later file read of the process, the agent's included, waits forever). Here the file is
 * opened with O_NONBLOCK (opening a FIFO without a writer does not block), checked with fstat
 * (anything but a regular file is refused before one byte is read), and read in chunks with a
 * size cap and the check's AbortSignal looked at between chunks. A regular file never blocks a
 * read for long, so no threadpool thread is held.
 */
import { close, closeSync, constants, fstat, fstatSync, open, openSync, read, readSync, type Stats } from 'node:fs';

/** The largest input a check reads: far above any real status dump, far below memory trouble. */
export const MAX_INPUT_BYTES = 16 * 1024 * 1024;
export const MAX_INPUT_TEXT = '16 MiB';

const CHUNK = 64 * 1024;
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

export type InputErrorKind = 'not-found' | 'permission' | 'not-regular' | 'too-large' | 'aborted' | 'failed';

/** A read that failed; `reason` is the part after the file's name: `no such file`. */
export class InputError extends Error {
  override name = 'InputError';
  readonly kind: InputErrorKind;
  readonly reason: string;
  constructor(kind: InputErrorKind, reason: string) {
    super(reason);
    this.kind = kind;
    this.reason = reason;
  }
}

export interface BoundedReadOptions {
  /** Default MAX_INPUT_BYTES. */
  readonly maxBytes?: number;
  /** Stops the read between chunks (the check's -t). */
  readonly signal?: AbortSignal | undefined;
}

export interface BoundedText {
  readonly text: string;
  readonly mtimeMs: number;
}

function sizeText(bytes: number): string {
  return bytes === MAX_INPUT_BYTES ? MAX_INPUT_TEXT : bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} bytes`;
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function notRegular(st: Stats): InputError {
  return new InputError('not-regular', `it is ${kindOf(st)}, not a regular file (give a saved file, or - for stdin)`);
}

function tooLarge(max: number): InputError {
  return new InputError('too-large', `it is larger than ${sizeText(max)}, the most a check reads`);
}

/** Node's error as an InputError with a short reason. */
export function inputErrorOf(e: unknown): InputError {
  if (e instanceof InputError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new InputError('not-found', 'no such file');
  if (code === 'EACCES' || code === 'EPERM') return new InputError('permission', 'permission denied');
  if (code === 'ENOTDIR') return new InputError('not-found', 'a part of the path is not a directory');
  if (code === 'ELOOP') return new InputError('failed', 'too many symbolic links');
  const msg = e instanceof Error ? e.message.split('\n')[0] ?? '' : String(e);
  return new InputError('failed', msg);
}

const aborted = (): InputError => new InputError('aborted', 'the check timed out while reading it');

/** Reads a regular file of at most `maxBytes` as UTF-8, with its modification time. */
export async function readBoundedFile(path: string, opts: BoundedReadOptions = {}): Promise<BoundedText> {
  const r = await readBoundedBytes(path, opts);
  return { text: r.bytes.toString('utf8'), mtimeMs: r.mtimeMs };
}

/** The same as raw bytes, for binary files (utmp records). */
export function readBoundedBytes(path: string, opts: BoundedReadOptions = {}): Promise<{ bytes: Buffer; mtimeMs: number }> {
  const max = opts.maxBytes ?? MAX_INPUT_BYTES;
  const signal = opts.signal;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(aborted());
    let settled = false;
    let fd: number | undefined;
    const done = (err: InputError | undefined, value?: { bytes: Buffer; mtimeMs: number }): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(value!);
    };
    // Rejects at once; the descriptor is closed when the chunk under way comes back.
    const onAbort = (): void => done(aborted());
    signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (err: InputError | undefined, value?: { bytes: Buffer; mtimeMs: number }): void => {
      if (fd !== undefined) close(fd, () => undefined);
      fd = undefined;
      done(err, value);
    };
    open(path, OPEN_FLAGS, (openErr, opened) => {
      if (openErr) return done(inputErrorOf(openErr));
      fd = opened;
      if (settled) return finish(undefined);
      fstat(opened, (statErr, st) => {
        if (statErr) return finish(inputErrorOf(statErr));
        if (!st.isFile()) return finish(notRegular(st));
        // /proc and /sys files say size 0 and are read to their end like any other.
        if (st.size > max) return finish(tooLarge(max));
        const chunks: Buffer[] = [];
        let total = 0;
        const next = (): void => {
          if (settled) return finish(undefined);
          // One byte more than allowed tells a file at the limit from one that grew past it.
          const buf = Buffer.allocUnsafe(Math.min(CHUNK, max + 1 - total));
          read(opened, buf, 0, buf.length, null, (readErr, n) => {
            if (readErr) return finish(inputErrorOf(readErr));
            if (n === 0) return finish(undefined, { bytes: Buffer.concat(chunks, total), mtimeMs: st.mtimeMs });
            total += n;
            if (total > max) return finish(tooLarge(max));
            chunks.push(n === buf.length ? buf : buf.subarray(0, n));
            next();
          });
        };
        next();
      });
    });
  });
}

/**
 * Checks, without reading it, that `path` is a regular file of at most `maxBytes`: for a file a
 * command the check runs will read (crm_mon's CIB_file), so a FIFO or a device is refused with
 * one line instead of hanging that command until -t.
 */
export function checkRegularFile(path: string, opts: Pick<BoundedReadOptions, 'maxBytes'> = {}): Promise<void> {
  const max = opts.maxBytes ?? MAX_INPUT_BYTES;
  return new Promise((resolve, reject) => {
    open(path, OPEN_FLAGS, (openErr, fd) => {
      if (openErr) return reject(inputErrorOf(openErr));
      fstat(fd, (statErr, st) => {
        close(fd, () => undefined);
        if (statErr) return reject(inputErrorOf(statErr));
        if (!st.isFile()) return reject(notRegular(st));
        if (st.size > max) return reject(tooLarge(max));
        resolve();
      });
    });
  });
}

/**
 * The same for code that must stay synchronous (option files read while building a
 * connection). Safe on the main thread for the same reason: only regular files are read.
 */
export function readBoundedFileSync(path: string, opts: Pick<BoundedReadOptions, 'maxBytes'> = {}): string {
  const max = opts.maxBytes ?? MAX_INPUT_BYTES;
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (e) {
    throw inputErrorOf(e);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw notRegular(st);
    if (st.size > max) throw tooLarge(max);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, max + 1 - total));
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      total += n;
      if (total > max) throw tooLarge(max);
      chunks.push(n === buf.length ? buf : buf.subarray(0, n));
    }
    return Buffer.concat(chunks, total).toString('utf8');
  } catch (e) {
    throw inputErrorOf(e);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a stream (stdin) to its end: at most `maxBytes`, stopped by `signal`. On either limit
 * the stream is destroyed, so nothing keeps reading (or keeps the process alive) afterwards.
 */
export function readBoundedStream(stream: NodeJS.ReadableStream & { destroy?: () => void }, opts: BoundedReadOptions = {}): Promise<string> {
  const max = opts.maxBytes ?? MAX_INPUT_BYTES;
  const signal = opts.signal;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    const cleanup = (): void => {
      stream.removeListener('data', onData);
      stream.removeListener('end', onEnd);
      stream.removeListener('error', onError);
      signal?.removeEventListener('abort', onAbort);
    };
    const fail = (e: InputError): void => {
      if (settled) return;
      settled = true;
      cleanup();
      stream.destroy?.();
      reject(e);
    };
    const onData = (c: Buffer | string): void => {
      const b = typeof c === 'string' ? Buffer.from(c) : c;
      total += b.length;
      if (total > max) return fail(tooLarge(max));
      chunks.push(b);
    };
    const onEnd = (): void => {
      if (settled) return;
      settled = true;
      cleanup();
      resolve(Buffer.concat(chunks, total).toString('utf8'));
    };
    const onError = (e: Error): void => fail(inputErrorOf(e));
    const onAbort = (): void => fail(aborted());
    if (signal?.aborted) return fail(aborted());
    signal?.addEventListener('abort', onAbort, { once: true });
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
  });
}
