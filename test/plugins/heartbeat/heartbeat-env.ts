/**
 * Test helper: a real two-node Heartbeat 3.0.6 cluster (Debian package heartbeat). Each node is
 * a network namespace (two veth links between them: 192.0.2.0/24 and 198.51.100.0/24, no
 * routes out) plus its own mount and UTS namespace, so it has its own hostname (heartbeat's node
 * name), its own /etc/ha.d, /var/lib/heartbeat and /run. The resource group (haresources
 * `nodea hwflag`) is a script that keeps a flag file in the node's state directory.
 * cl_status and the check run inside a node with nsenter.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { binPath, runProgram, type RunResult } from '../../support/bin.ts';
import { requireFile, requireRoot, requireUser } from '../../support/require.ts';
import { removeDir, tempDir } from '../../support/tmp.ts';
import { waitFor } from '../../support/wait.ts';

export const HEARTBEAT = '/usr/libexec/heartbeat/heartbeat';

function sh(file: string, args: readonly string[]): string {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${file} ${args.join(' ')} failed: ${err.stderr || err.message}`);
  }
}

export interface HbNode {
  readonly name: 'nodea' | 'nodeb';
  readonly ns: string;
  readonly dir: string;
  /** The heartbeat master's pid (from its pid file), for nsenter and signals. */
  pid(): number;
  /** Runs the built check inside the node. */
  check(args?: readonly string[]): Promise<RunResult & { status: string }>;
  clStatus(args: readonly string[]): RunResult;
  holdsFlag(): boolean;
  /** Kills every process of the node (heartbeat and its children): a node that died. */
  kill(): void;
}

export interface HbCluster {
  /** nodea's interface of each link, as cl_status on nodea names nodeb's links. */
  readonly linkNames: readonly [string, string];
  readonly a: HbNode;
  readonly b: HbNode;
  /** Takes one link down on nodea's side (`1` or `2`); up again with `linkUp`. */
  linkDown(n: 1 | 2): void;
  linkUp(n: 1 | 2): void;
  stop(): void;
}

const RESOURCE = `#!/bin/sh
# A resource for the tests: a flag file in the node's own state directory.
F=/var/lib/heartbeat/hwflag
case "$1" in
  start) touch $F ;;
  stop) rm -f $F ;;
  status) if [ -f $F ]; then echo running; else echo stopped; fi ;;
esac
exit 0
`;

export function startCluster(): HbCluster {
  requireRoot('the heartbeat tests create network, mount and UTS namespaces');
  requireFile(HEARTBEAT, 'heartbeat');
  requireFile('/usr/bin/cl_status', 'heartbeat');
  const ids = requireUser('hacluster', 'heartbeat');
  const id = randomBytes(3).toString('hex');
  const root = tempDir('hawatch-hb-', { mode: 0o755 });
  const nsA = `hwhb${id}a`;
  const nsB = `hwhb${id}b`;
  const links: [string, string][] = [[`hb${id}1a`, `hb${id}1b`], [`hb${id}2a`, `hb${id}2b`]];
  const cleanup = () => {
    for (const ns of [nsA, nsB]) {
      const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).map(Number);
      for (const p of pids) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      spawnSync('ip', ['netns', 'del', ns]);
    }
    removeDir(root);
  };
  process.once('exit', cleanup);
  sh('ip', ['netns', 'add', nsA]);
  sh('ip', ['netns', 'add', nsB]);
  const addrs = [['192.0.2.1', '192.0.2.2'], ['198.51.100.1', '198.51.100.2']] as const;
  links.forEach(([la, lb], i) => {
    sh('ip', ['link', 'add', la, 'netns', nsA, 'type', 'veth', 'peer', 'name', lb, 'netns', nsB]);
    sh('ip', ['-n', nsA, 'addr', 'add', `${addrs[i]![0]}/24`, 'dev', la]);
    sh('ip', ['-n', nsB, 'addr', 'add', `${addrs[i]![1]}/24`, 'dev', lb]);
    sh('ip', ['-n', nsA, 'link', 'set', la, 'up']);
    sh('ip', ['-n', nsB, 'link', 'set', lb, 'up']);
  });
  const make = (name: 'nodea' | 'nodeb', ns: string, side: 0 | 1): HbNode => {
    const dir = join(root, name);
    for (const d of ['ha.d', 'lib', 'run/heartbeat/ccm', 'run/heartbeat/crm']) mkdirSync(join(dir, d), { recursive: true });
    for (const d of ['run/heartbeat/ccm', 'run/heartbeat/crm']) chownSync(join(dir, d), ids.uid, ids.gid);
    cpSync('/etc/ha.d', join(dir, 'ha.d'), { recursive: true });
    cpSync('/var/lib/heartbeat', join(dir, 'lib'), { recursive: true });
    const peer = side === 0 ? 1 : 0;
    writeFileSync(
      join(dir, 'ha.d', 'ha.cf'),
      [
        `logfile ${dir}/ha-log`,
        'keepalive 1',
        'deadtime 4',
        'warntime 2',
        'initdead 4',
        'udpport 694',
        `ucast ${links[0]![side]} ${addrs[0][peer]}`,
        `ucast ${links[1]![side]} ${addrs[1][peer]}`,
        'ping 192.0.2.254',
        'auto_failback off',
        'node nodea',
        'node nodeb',
        '',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'ha.d', 'authkeys'), 'auth 1\n1 sha1 hawatch-test\n', { mode: 0o600 });
    chmodSync(join(dir, 'ha.d', 'authkeys'), 0o600);
    writeFileSync(join(dir, 'ha.d', 'haresources'), 'nodea hwflag\n');
    writeFileSync(join(dir, 'ha.d', 'resource.d', 'hwflag'), RESOURCE, { mode: 0o755 });
    const script = [
      'set -e',
      `hostname ${name}`,
      'ip link set lo up',
      `mount --bind ${dir}/ha.d /etc/ha.d`,
      `mount --bind ${dir}/lib /var/lib/heartbeat`,
      `mount --bind ${dir}/run /run`,
      `exec ${HEARTBEAT}`,
    ].join('\n');
    writeFileSync(join(dir, 'start.sh'), script);
    const pid = () => Number(readFileSync(join(dir, 'run', 'heartbeat.pid'), 'utf8').trim());
    const enter = ['-t', '', '-m', '-u', '-n'];
    const node: HbNode = {
      name,
      ns,
      dir,
      pid,
      async check(args = []) {
        const e = [...enter];
        e[1] = String(pid());
        const r = await runProgram('nsenter', [...e, process.execPath, binPath('check_ha_heartbeat'), ...args], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' }, timeoutMs: 30_000 });
        return { ...r, status: r.stdout.split('\n')[0]!.split(' | ')[0]! };
      },
      clStatus(args) {
        const e = [...enter];
        e[1] = String(pid());
        const r = spawnSync('nsenter', [...e, 'cl_status', ...args], { encoding: 'utf8', timeout: 10_000 });
        return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: 0 };
      },
      holdsFlag: () => existsSync(join(dir, 'lib', 'hwflag')),
      kill() {
        const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).map(Number);
        for (const p of pids) {
          try {
            process.kill(p, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      },
    };
    return node;
  };
  const a = make('nodea', nsA, 0);
  const b = make('nodeb', nsB, 1);
  for (const n of [a, b]) {
    const r = spawnSync('ip', ['netns', 'exec', n.ns, 'unshare', '-m', '-u', '--propagation', 'private', 'sh', join(n.dir, 'start.sh')], { encoding: 'utf8', timeout: 20_000 });
    if (r.status !== 0) throw new Error(`heartbeat did not start on ${n.name}: ${r.stderr}`);
  }
  return {
    linkNames: [links[0]![0], links[1]![0]],
    a,
    b,
    linkDown: (n) => sh('ip', ['-n', nsA, 'link', 'set', links[n - 1]![0], 'down']),
    linkUp: (n) => sh('ip', ['-n', nsA, 'link', 'set', links[n - 1]![0], 'up']),
    stop() {
      process.removeListener('exit', cleanup);
      cleanup();
    },
  };
}

/** Waits until cl_status on `node` prints `want` for `args`. */
export async function waitClStatus(node: HbNode, args: readonly string[], want: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(`${node.name}: cl_status ${args.join(' ')} = ${want}`, () => node.clStatus(args).stdout.trim() === want, timeoutMs, { everyMs: 250 });
}
