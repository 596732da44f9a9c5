#!/usr/bin/env bash
# sshd refuses to start without its privilege separation directory; on a booted system the
# openssh-server unit creates it, in CI nothing does. The SSH executor tests start sshd.
set -euo pipefail
mkdir -p /run/sshd
chmod 0755 /run/sshd
