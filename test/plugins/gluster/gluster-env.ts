/**
 * Test helper: a real three-peer GlusterFS pool (Debian glusterfs-server). Each peer is a
 * network namespace (192.0.2.1-3 on a bridge in a fourth namespace, no routes out) plus its own
 * mount and UTS namespace, in which its own directories are bind-mounted on /var/lib/glusterd
 * (its UUID, peers and volumes), /var/log/glusterfs and /run (glusterd.socket, pid files):
 * glusterd has no option for another working directory that every version honours, but each
 * daemon sees only its own. Bricks are plain directories (`force`: they are on the root fs).
 * The gluster CLI and the check run inside a peer with nsenter.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { binPath, runProgram, type RunResult } from '../../support/bin.ts';
import { requireFile, requireRoot } from '../../support/require.ts';
import { removeDir, tempDir } from '../../support/tmp.ts';
import { waitFor } from '../../support/wait.ts';

export const GLUSTERD = '/usr/sbin/glusterd';

function sh(file: string, args: readonly string[]): string {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${file} ${args.join(' ')} failed: ${err.stderr || err.message}`);
  }
}

export interface GlusterNode {
  readonly name: string;
  readonly ip: string;
  readonly dir: string;
  /** The brick directory of this peer (host path, the same inside its namespace). */
  readonly brick: string;
  glusterdPid(): number;
  /** `gluster --mode=script ARGS` inside the peer. */
  gluster(args: readonly string[], timeoutMs?: number): RunResult;
  /** Runs a shell line inside the peer (its mount namespace: the FUSE mount lives there). */
  shell(line: string): RunResult;
  /** Runs the built check inside the peer. */
  check(args?: readonly string[]): Promise<RunResult & { status: string }>;
}

export interface GlusterPool {
  readonly nodes: readonly [GlusterNode, GlusterNode, GlusterNode];
  readonly volume: string;
  /** Where the volume is mounted (FUSE) inside node a. */
  readonly mount: string;
  /** The pid of the glusterfsd serving the brick of `node` (from volume status). */
  brickPid(node: GlusterNode): number;
  stop(): void;
}

export function startPool(): GlusterPool {
  requireRoot('the gluster tests create network, mount and UTS namespaces');
  requireFile(GLUSTERD, 'glusterfs-server');
  requireFile('/usr/sbin/gluster', 'glusterfs-cli');
  requireFile('/dev/fuse', 'fuse (the kernel module)');
  const id = randomBytes(3).toString('hex');
  const root = tempDir('hawatch-gl-', { mode: 0o755 });
  const sw = `hwgl${id}s`;
  const names = ['a', 'b', 'c'] as const;
  const nss = names.map((n) => `hwgl${id}${n}`);
  const cleanup = () => {
    for (const ns of [...nss, sw]) {
      const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).map(Number);
      for (const p of pids) {
        try {
          process.kill(p, 'SIGCONT');
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
  try {
    sh('ip', ['netns', 'add', sw]);
    sh('ip', ['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
    sh('ip', ['-n', sw, 'link', 'set', 'br0', 'up']);
    const make = (name: string, i: number): GlusterNode => {
      const ns = nss[i]!;
      const ip = `192.0.2.${i + 1}`;
      const dir = join(root, name);
      const brick = join(dir, 'brick');
      for (const d of ['lib', 'log', 'run', 'brick']) mkdirSync(join(dir, d), { recursive: true });
      // The packaged hooks and groups, without glusterd.info: each peer makes its own UUID.
      cpSync('/var/lib/glusterd', join(dir, 'lib'), { recursive: true });
      const ifc = `gl${id}${name}`;
      sh('ip', ['netns', 'add', ns]);
      sh('ip', ['link', 'add', ifc, 'netns', ns, 'type', 'veth', 'peer', 'name', `${ifc}p`, 'netns', sw]);
      sh('ip', ['-n', sw, 'link', 'set', `${ifc}p`, 'master', 'br0']);
      sh('ip', ['-n', sw, 'link', 'set', `${ifc}p`, 'up']);
      sh('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', ifc]);
      sh('ip', ['-n', ns, 'link', 'set', ifc, 'up']);
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      writeFileSync(
        join(dir, 'start.sh'),
        [
          'set -e',
          `hostname gl${name}`,
          `mount --bind ${dir}/lib /var/lib/glusterd`,
          `mount --bind ${dir}/log /var/log/glusterfs`,
          `mount --bind ${dir}/run /run`,
          `${GLUSTERD} -p /run/glusterd.pid`,
          // Keeps the mount namespace (and a FUSE mount in it) while glusterd restarts.
          'exec sleep infinity',
        ].join('\n'),
      );
      const pidFile = join(dir, 'run', 'glusterd.pid');
      const glusterdPid = () => Number(readFileSync(pidFile, 'utf8').trim());
      const enter = () => ['-t', String(glusterdPid()), '-m', '-u', '-n'];
      return {
        name,
        ip,
        dir,
        brick,
        glusterdPid,
        gluster(args, timeoutMs = 30_000) {
          const r = spawnSync('nsenter', [...enter(), 'gluster', '--mode=script', ...args], { encoding: 'utf8', timeout: timeoutMs });
          return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: 0 };
        },
        shell(line) {
          const r = spawnSync('nsenter', [...enter(), 'sh', '-c', line], { encoding: 'utf8', timeout: 30_000 });
          return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: 0 };
        },
        async check(args = []) {
          const r = await runProgram('nsenter', [...enter(), process.execPath, binPath('check_ha_gluster'), ...args], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' }, timeoutMs: 60_000 });
          return { ...r, status: r.stdout.split('\n')[0]!.split(' | ')[0]! };
        },
      };
    };
    const nodes = names.map((n, i) => make(n, i)) as unknown as [GlusterNode, GlusterNode, GlusterNode];
    nodes.forEach((n, i) => {
      const child = spawn('ip', ['netns', 'exec', nss[i]!, 'unshare', '-m', '-u', '--propagation', 'private', '--fork', 'sh', join(n.dir, 'start.sh')], { stdio: 'ignore', detached: true });
      child.unref();
    });
    return {
      nodes,
      volume: 'hwv',
      mount: join(root, 'mnt'),
      brickPid(node) {
        const r = nodes[0].gluster(['volume', 'status', 'hwv', node.ip + ':' + node.brick, '--xml']);
        const m = /<pid>(\d+)<\/pid>/.exec(r.stdout);
        if (!m) throw new Error(`no pid for the brick of ${node.name}: ${r.stdout}${r.stderr}`);
        return Number(m[1]);
      },
      stop() {
        process.removeListener('exit', cleanup);
        cleanup();
      },
    };
  } catch (e) {
    process.removeListener('exit', cleanup);
    cleanup();
    throw e;
  }
}

/** Peers probed, replica 3 volume hwv created, started and mounted (FUSE) on node a. */
export async function setUpVolume(p: GlusterPool): Promise<void> {
  const [a, b, c] = p.nodes;
  for (const n of p.nodes) await waitFor(`glusterd on ${n.name}`, () => existsSync(join(n.dir, 'run', 'glusterd.socket')) && existsSync(join(n.dir, 'run', 'glusterd.pid')) && n.gluster(['peer', 'status']).code === 0, 30_000, { everyMs: 200 });
  for (const n of [b, c]) {
    const r = a.gluster(['peer', 'probe', n.ip]);
    if (r.code !== 0) throw new Error(`peer probe ${n.ip}: ${r.stdout}${r.stderr}`);
  }
  await waitFor('peers connected', () => (a.gluster(['pool', 'list']).stdout.match(/\bConnected\b/g) ?? []).length === 3, 30_000, { everyMs: 200 });
  const create = a.gluster(['volume', 'create', p.volume, 'replica', '3', ...p.nodes.map((n) => `${n.ip}:${n.brick}`), 'force']);
  if (create.code !== 0) throw new Error(`volume create: ${create.stdout}${create.stderr}`);
  const start = a.gluster(['volume', 'start', p.volume]);
  if (start.code !== 0) throw new Error(`volume start: ${start.stdout}${start.stderr}`);
  mkdirSync(p.mount, { recursive: true });
  const m = a.shell(`mount -t glusterfs ${a.ip}:/${p.volume} ${p.mount}`);
  if (m.code !== 0) throw new Error(`FUSE mount of ${p.volume}: ${m.stdout}${m.stderr}`);
  const w = a.shell(`echo first > ${p.mount}/first`);
  if (w.code !== 0) throw new Error(`write through the mount: ${w.stderr}`);
}

/** Pending heal entries as heal-count sees them, summed over the bricks. */
export function healCount(p: GlusterPool): number {
  const r = p.nodes[0].gluster(['volume', 'heal', p.volume, 'statistics', 'heal-count']);
  return [...r.stdout.matchAll(/Number of entries: (\d+)/g)].reduce((s, m) => s + Number(m[1]), 0);
}
