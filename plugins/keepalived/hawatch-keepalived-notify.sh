#!/bin/sh
# hawatch-keepalived-notify.sh: records keepalived's VRRP state changes in a state file
# that check_ha_keepalived (and check_ha_vip --expect-from keepalived:INSTANCE) read
# without any privileges.
#
# As a notify script (keepalived appends TYPE NAME STATE PRIORITY):
#     vrrp_instance VI_1 {
#         notify "/usr/local/lib/hawatch/hawatch-keepalived-notify.sh"
#         # or with another state file:
#         # notify "/usr/local/lib/hawatch/hawatch-keepalived-notify.sh -f /var/lib/hawatch/keepalived/state"
#     }
# As a FIFO reader (keepalived passes the FIFO path; lines look like INSTANCE "VI_1" MASTER 100):
#     global_defs {
#         vrrp_notify_fifo /run/keepalived/notify.fifo
#         vrrp_notify_fifo_script "/usr/local/lib/hawatch/hawatch-keepalived-notify.sh"
#     }
#
# Each state is appended as one line: <epoch seconds> INSTANCE "VI_1" MASTER 100
# The file keeps the last $MAX_LINES lines (history for "the state keeps changing").
set -u
STATE_FILE=/var/lib/hawatch/keepalived/state
MAX_LINES=500

if [ "${1:-}" = "-f" ] && [ $# -ge 2 ]; then
    STATE_FILE=$2
    shift 2
fi

umask 022
mkdir -p "$(dirname "$STATE_FILE")" 2>/dev/null

record() {
    # A single short write with O_APPEND is atomic, so concurrent notify calls do not interleave.
    printf '%s %s "%s" %s %s\n' "$(date +%s)" "$1" "$2" "$3" "${4:-}" >> "$STATE_FILE"
    trim
}

trim() {
    lines=$(wc -l < "$STATE_FILE" 2>/dev/null || echo 0)
    [ "$lines" -le $((MAX_LINES * 2)) ] && return 0
    tmp="$STATE_FILE.tmp.$$"
    if command -v flock >/dev/null 2>&1; then
        (
            flock -w 2 9 || exit 0
            tail -n "$MAX_LINES" "$STATE_FILE" > "$tmp" && mv -f "$tmp" "$STATE_FILE"
        ) 9>>"$STATE_FILE.lock"
    else
        tail -n "$MAX_LINES" "$STATE_FILE" > "$tmp" && mv -f "$tmp" "$STATE_FILE"
    fi
}

if [ $# -eq 1 ] && [ -p "$1" ]; then
    # FIFO mode: keepalived keeps writing lines; runs until keepalived closes the FIFO.
    while IFS= read -r line; do
        # shellcheck disable=SC2086
        set -- $line
        [ $# -ge 3 ] || continue
        name=$(printf '%s' "$2" | tr -d '"')
        record "$1" "$name" "$3" "${4:-}"
    done < "$1"
    exit 0
fi

if [ $# -lt 3 ]; then
    echo "usage: $0 [-f STATE_FILE] TYPE NAME STATE [PRIORITY]   (called by keepalived)" >&2
    exit 2
fi
record "$1" "$2" "$3" "${4:-}"
