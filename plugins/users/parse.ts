/**
 * utmp records as glibc writes them on Linux (struct utmp, 384 bytes on every 64-bit and
 * 32-bit Linux ABI glibc supports: ut_tv and ut_session are 32-bit there for this reason):
 *   0 ut_type (short, padded to 4)   4 ut_pid   8 ut_line[32]   40 ut_id[4]   44 ut_user[32]
 *   76 ut_host[256]   332 ut_exit   336 ut_session   340 ut_tv (sec, usec)   348 ut_addr_v6[16]
 * Pure.
 */
export const UTMP_RECORD = 384;
/** ut_type of a logged-in user, what check_users counts. */
export const USER_PROCESS = 7;

export interface UtmpEntry {
  readonly type: number;
  readonly pid: number;
  readonly line: string;
  readonly user: string;
  readonly host: string;
  readonly loginSec: number;
}

function cstr(b: Buffer, start: number, len: number): string {
  const s = b.subarray(start, start + len);
  const nul = s.indexOf(0);
  return (nul === -1 ? s : s.subarray(0, nul)).toString('utf8');
}

export function parseUtmp(b: Buffer): UtmpEntry[] {
  const out: UtmpEntry[] = [];
  // A trailing partial record (a writer mid-update) is ignored, as getutxent does.
  for (let off = 0; off + UTMP_RECORD <= b.length; off += UTMP_RECORD) {
    out.push({
      type: b.readInt16LE(off),
      pid: b.readInt32LE(off + 4),
      line: cstr(b, off + 8, 32),
      user: cstr(b, off + 44, 32),
      host: cstr(b, off + 76, 256),
      loginSec: b.readInt32LE(off + 340),
    });
  }
  return out;
}

/** The users check_users counts: USER_PROCESS records with a user name. */
export function loggedIn(entries: readonly UtmpEntry[]): UtmpEntry[] {
  return entries.filter((e) => e.type === USER_PROCESS && e.user !== '');
}

/**
 * `utmpdump` text (util-linux), for --input-file: one record a line,
 * `[7] [01234] [ts/1] [alice   ] [pts/1       ] [192.0.2.10          ] [192.0.2.10     ] [2026-11-29T09:00:00,000000+00:00]`.
 */
export function parseUtmpdump(text: string): UtmpEntry[] {
  const out: UtmpEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^\[(\d+)\] \[(\d+)\] \[([^\]]*)\] \[([^\]]*)\] \[([^\]]*)\] \[([^\]]*)\] \[([^\]]*)\] \[([^\]]*)\]/.exec(line.trim());
    if (!m) continue;
    const t = Date.parse(m[8]!.replace(',', '.'));
    out.push({ type: Number(m[1]), pid: Number(m[2]), user: m[4]!.trim(), line: m[5]!.trim(), host: m[6]!.trim(), loginSec: Number.isFinite(t) ? Math.floor(t / 1000) : 0 });
  }
  return out;
}
