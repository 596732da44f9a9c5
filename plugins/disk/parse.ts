/** /proc/self/mountinfo and `stat --file-system` output. Pure. */

export interface Mount {
  readonly mountPoint: string;
  readonly fsType: string;
  readonly source: string;
  readonly options: string;
}

/** Octal escapes the kernel writes for space, tab, newline and backslash in paths. */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`.
 * A mount point mounted over keeps only its last (visible) entry.
 */
export function parseMountinfo(text: string): Mount[] {
  const byPoint = new Map<string, Mount>();
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    if (f.length < 10 || dash === -1) continue;
    const m: Mount = { mountPoint: unescape(f[4]!), options: f[5]!, fsType: f[dash + 1]!, source: unescape(f[dash + 2] ?? '') };
    byPoint.delete(m.mountPoint);
    byPoint.set(m.mountPoint, m);
  }
  return [...byPoint.values()];
}

/**
 * Pseudo and image filesystems left out unless -N or -p names them: they hold no data that
 * can fill up (proc, sysfs, cgroup...), are read-only images always 100% full (squashfs, a
 * snap or a live system), or mirror another filesystem (overlay, a container's root).
 */
export const DEFAULT_EXCLUDED_TYPES: readonly string[] = [
  'proc', 'sysfs', 'devtmpfs', 'devpts', 'tmpfs', 'ramfs', 'squashfs', 'overlay', 'aufs', 'cgroup', 'cgroup2', 'debugfs',
  'tracefs', 'securityfs', 'pstore', 'bpf', 'mqueue', 'hugetlbfs', 'configfs', 'fusectl', 'autofs', 'binfmt_misc',
  'rpc_pipefs', 'nfsd', 'nsfs', 'efivarfs', 'selinuxfs', 'iso9660', 'udf', 'devfs', 'sockfs', 'pipefs',
];

/** Filesystems whose statfs may wait on a server or a user-space daemon that does not answer. */
export function mayHang(m: Mount): boolean {
  return /^(nfs4?|cifs|smb3|smbfs|ncpfs|afs|ceph|glusterfs|lustre|9p|davfs|sshfs|fuse(\..*|blk)?)$/.test(m.fsType) || isRemote(m);
}

/** What -l leaves out (gnulib's ME_REMOTE, which check_disk uses): network types, host:path and //host sources. */
export function isRemote(m: Mount): boolean {
  return /^(nfs4?|cifs|smb3|smbfs|ncpfs|afs|ceph|glusterfs|fuse\.glusterfs|fuse\.sshfs|fuse\.ceph|lustre|9p|davfs)$/.test(m.fsType) || /^[^/]+:/.test(m.source) || m.source.startsWith('//');
}

export { parseStatF, type FsStats } from '../lib/mountprobe.ts';
import type { FsStats } from '../lib/mountprobe.ts';

/**
 * `df -B1 --output=source,fstype,itotal,iused,iavail,size,used,avail,target` for --input-file:
 * the same figures statfs gives, in bytes.
 */
export function parseDfOutput(text: string): { mount: Mount; stats: FsStats }[] {
  const out: { mount: Mount; stats: FsStats }[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(\S+)\s+(\d+|-)\s+(\d+|-)\s+(\d+|-)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\/.*)$/.exec(line.trim());
    if (!m) continue;
    const n = (s: string): number => (s === '-' ? 0 : Number(s));
    const size = n(m[6]!);
    out.push({
      mount: { source: m[1]!, fsType: m[2]!, mountPoint: m[9]!, options: '' },
      stats: { bsize: 1, blocks: size, bfree: size - n(m[7]!), bavail: n(m[8]!), files: n(m[3]!), ffree: n(m[5]!) },
    });
  }
  return out;
}
