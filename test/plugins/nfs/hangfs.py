"""A tiny FUSE filesystem for the check_ha_nfs client tests (Debian python3-fuse, libfuse2).

Usage: hangfs.py MOUNTPOINT CONTROL_FILE -f -s -o fsname=...,subtype=...
Every operation first reads CONTROL_FILE (outside the mount):
  ok     answer normally (a root directory holding one file);
  stale  fail with ESTALE, as an NFS client does when the server lost the file handle;
  hang   do not answer until the file says something else, as a dead hard-mounted NFS
         server does. The request is then in user space: a process waiting on it that gets
         SIGKILL stays in uninterruptible sleep (fs/fuse/dev.c request_wait_answer) until
         the answer comes, exactly the probe that cannot be killed.
"""
import errno
import os
import stat
import sys
import time

import fuse

fuse.fuse_python_api = (0, 2)

MOUNT = sys.argv[1]
CONTROL = sys.argv[2]
del sys.argv[2]


def mode():
    try:
        with open(CONTROL) as f:
            return f.read().strip()
    except OSError:
        return 'ok'


def gate():
    m = mode()
    while m == 'hang':
        time.sleep(0.05)
        m = mode()
    return -errno.ESTALE if m == 'stale' else 0


class HangFS(fuse.Fuse):
    def getattr(self, path):
        e = gate()
        if e:
            return e
        st = fuse.Stat()
        if path == '/':
            st.st_mode = stat.S_IFDIR | 0o755
            st.st_nlink = 2
            return st
        if path == '/hello':
            st.st_mode = stat.S_IFREG | 0o444
            st.st_nlink = 1
            st.st_size = 6
            return st
        return -errno.ENOENT

    def readdir(self, path, offset):
        e = gate()
        if e:
            return e
        return iter([fuse.Direntry(n) for n in ('.', '..', 'hello')])

    def opendir(self, path):
        return gate()

    def statfs(self):
        e = gate()
        if e:
            return e
        v = fuse.StatVfs()
        v.f_bsize = 4096
        v.f_frsize = 4096
        v.f_blocks = 1000
        v.f_bfree = 600
        v.f_bavail = 500
        v.f_files = 100
        v.f_ffree = 90
        v.f_namemax = 255
        return v


if __name__ == '__main__':
    fs = HangFS(version='hangfs', usage='hangfs.py MOUNTPOINT CONTROL -f -s', dash_s_do='setsingle')
    fs.parse(errex=1)
    fs.main()
