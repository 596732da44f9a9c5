/**
 * The embedded default inventory: what `hawatch-server` runs with no --config. A local demo
 * on the admin node itself: the server's own demo checks run as real processes through the
 * local executor, the built check_ha_drbd and check_ha_crm on their fixtures (a DRBD resync
 * is a WARNING to acknowledge), and a cluster rule.
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
  demo-node:
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

  # The built check_ha_* plugins on their captured fixtures (from a source checkout:
  # dist/bin/../../plugins/*/fixtures): a DRBD resync (WARNING) and a healthy Pacemaker.
  - name: drbd r0 (fixture)
    host: demo-node
    command: $NODE$ $HAWATCH_BIN$/check_ha_drbd.cjs --input-file $HAWATCH_BIN$/../../plugins/drbd/fixtures/events2-9-resync-7GiB.txt
  - name: pacemaker (fixture)
    host: demo-node
    command: $NODE$ $HAWATCH_BIN$/check_ha_crm.cjs --input-file $HAWATCH_BIN$/../../plugins/crm/fixtures/healthy.xml

cluster_rules:
  - name: admin node health
    description: at least 2 of the 3 resource checks OK
    members: [localhost/load, localhost/disk root, localhost/memory]
    expect: { at_least: 2 }
`;
