/**
 * The embedded default inventory: what `hawatch-server` runs with no --config. A local demo
 * on the admin node itself: the server's own demo checks run as real processes through the
 * local executor, one of them a deliberate WARNING to acknowledge, and a cluster rule.
 */
export const DEFAULT_INVENTORY = `# hawatch embedded default inventory (a local demo). Run with --config FILE for real use.
server:
  listen: 127.0.0.1:8080
  database: ":memory:"
  title: hawatch demo (embedded default inventory)
  max_concurrent_checks: 4

defaults:
  check_interval: 15s
  retry_interval: 5s
  max_check_attempts: 2
  timeout: 10s

hosts:
  localhost:
    address: 127.0.0.1
    local: true

services:
  - name: load
    host: localhost
    command: $NODE$ $HAWATCH_SERVER$ demo-check load -w 8 -c 16
  - name: disk root
    host: localhost
    command: $NODE$ $HAWATCH_SERVER$ demo-check disk --path / -w 85 -c 95
  - name: memory
    host: localhost
    command: $NODE$ $HAWATCH_SERVER$ demo-check memory -w 90 -c 97
  - name: demo warning
    host: localhost
    command: '$NODE$ $HAWATCH_SERVER$ demo-check dummy 1 "a deliberate WARNING - acknowledge it or schedule downtime from the page"'

cluster_rules:
  - name: admin node health
    description: at least 2 of the 3 resource checks OK
    members: [localhost/load, localhost/disk root, localhost/memory]
    expect: { at_least: 2 }
`;
