/** Temporary directories: unique per call (mkdtemp), since other helpers run tests at the same time. */
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TempDirOptions {
  /** chmod after creation (mkdtemp makes 0700): 0o755 when a daemon dropping privileges must read it. */
  readonly mode?: number;
  /** chown after creation: for servers that run as their own user (mysql, postgres). */
  readonly owner?: { readonly uid: number; readonly gid: number };
}

/** Creates <system tmp>/<prefix>XXXXXX; prefixes start with `hawatch-` so leftovers are recognisable. */
export function tempDir(prefix: string, opts: TempDirOptions = {}): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (opts.mode !== undefined) chmodSync(dir, opts.mode);
  if (opts.owner) chownSync(dir, opts.owner.uid, opts.owner.gid);
  return dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
