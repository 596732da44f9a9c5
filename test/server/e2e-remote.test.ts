// End to end over the network transports: the built hawatch-server polls a real stock
// nrpe daemon (certificate TLS, client certificate), the hawatch-agent (NRPE, anonymous
// TLS like stock check_nrpe) and a real sshd (pinned host key) on loopback; the checks are a script reading a state file the test flips. A dead agent
// becomes a clear CRITICAL, as check_nrpe reports it.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, makePki, readableTempDir, startNrpe, startSshd, type Daemon, type Sshd } from './executors/daemons.ts';
import { cleanup as cleanupAgents, startAgent, type Daemon as AgentDaemon } from '../agent/helpers.ts';

const BIN = join(process.cwd(), 'dist/bin/hawatch-server.cjs');

describe('hawatch-server over NRPE and SSH', () => {
  const dir = readableTempDir('hawatch-e2e-remote-');
  let nrpe: Daemon | undefined;
  let sshd: Sshd | undefined;
  let agent: AgentDaemon | undefined;
  let server: ChildProcess | undefined;
  const log: string[] = [];
  let base = '';
  const nrpeState = join(dir, 'nrpe.state');
  const sshState = join(dir, 'ssh.state');

  beforeAll(async () => {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run npm run build first (npm test does)`);
    const script = join(dir, 'check_flip.sh');
    writeFileSync(script, '#!/bin/sh\nstate=$(cat "$1")\necho "FLIP state $state|state=$state;1;2;0;3"\nexit "$state"\n');
    chmodSync(script, 0o755);
    for (const f of [nrpeState, sshState]) {
      writeFileSync(f, '0');
      chmodSync(f, 0o644);
    }
    const pki = makePki(join(dir, 'pki'));
    for (const f of [pki.serverKey, pki.clientKey]) chmodSync(f, 0o644); // nrpe runs as nagios
    nrpe = await startNrpe({ tls: 'cert', pki, commands: { flip: `/bin/sh ${script} ${nrpeState}` } });
    sshd = await startSshd();
    const root = process.cwd();
    agent = await startAgent({
      config: [
        'allowed_hosts=127.0.0.1',
        `command[check_drbd]=${root}/dist/bin/check_ha_drbd.cjs --input-file ${root}/plugins/drbd/fixtures/events2-9-split-brain.txt`,
        `command[flip]=/bin/sh ${script} ${nrpeState}`,
      ].join('\n'),
    });
    const port = await freePort();
    const inv = join(dir, 'inventory.yaml');
    writeFileSync(inv, `
server: { database: ":memory:" }
defaults: { check_interval: 2s, retry_interval: 1s, max_check_attempts: 2, timeout: 10s }
hosts:
  agent1:
    address: 127.0.0.1
    nrpe: { port: ${nrpe.port}, tls: { ca_file: ${pki.caCert}, cert_file: ${pki.clientCert}, key_file: ${pki.clientKey}, server_name: localhost } }
  agent2:
    address: 127.0.0.1
    nrpe: { port: ${agent.port} }
  node2:
    address: 127.0.0.1
    ssh: { port: ${sshd.port}, user: ${sshd.user}, private_key_file: ${sshd.userKey}, host_key: "${sshd.fingerprint}" }
services:
  - { name: flip, host: agent1, command: flip }
  - { name: flip, host: agent2, command: flip }
  - { name: drbd, host: agent2, command: check_drbd }
  - { name: flip, host: node2, command: /bin/sh ${script} ${sshState} }
`);
    server = spawn(process.execPath, [BIN, '--config', inv, '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    server.stdout?.on('data', (d: Buffer) => log.push(d.toString()));
    server.stderr?.on('data', (d: Buffer) => log.push(d.toString()));
    base = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    server?.kill('SIGKILL');
    await nrpe?.stop();
    await sshd?.stop();
    await cleanupAgents();
    await rm(dir, { recursive: true, force: true });
  });

  const status = async (key: string) => {
    const r = await fetch(`${base}/api/v1/objects/${key}`);
    const body = (await r.json()) as { status: { stateName: string; stateType: string; output: string; perfdata: string; hostCheck: string | null } };
    return body.status;
  };
  async function waitFor(what: string, fn: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      try {
        if (await fn()) return;
      } catch {
        /* not up yet */
      }
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(await Promise.all(['agent1/flip', 'agent2/flip', 'node2/flip'].map((k) => status(k).then((s) => s.output).catch(() => '?'))))}; server log: ${log.join('').slice(-1500)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('runs checks through NRPE (certificate TLS), the hawatch-agent and SSH (pinned host key) and follows their state', async () => {
    await waitFor('all checks OK', async () => (await status('agent1/flip')).stateName === 'OK' && (await status('agent2/flip')).stateName === 'OK' && (await status('node2/flip')).stateName === 'OK');
    expect((await status('agent1/flip')).perfdata).toBe('state=0;1;2;0;3');
    // Issue 10 item 4: no check: written, yet every host is checked: _NRPE_CHECK through
    // stock nrpe and the hawatch-agent, an SSH login on node2.
    await waitFor('the default host checks', async () => (await Promise.all(['agent1', 'agent2', 'node2'].map(status))).every((h) => h.stateName === 'UP' && h.output !== '(Pending: not checked yet)'));
    for (const h of ['agent1', 'agent2', 'node2']) expect((await status(h)).hostCheck).toBe('default');
    expect((await status('agent1')).output).toMatch(/^NRPE v?\d/);
    expect((await status('agent2')).output).toMatch(/NRPE v?\d/);
    expect((await status('node2')).output).toBe('SSH OK - login worked');
    await waitFor('the DRBD split brain through the agent', async () => (await status('agent2/drbd')).stateName === 'CRITICAL');
    expect((await status('agent2/drbd')).output).toMatch(/^DRBD CRITICAL - /);
    writeFileSync(nrpeState, '2');
    writeFileSync(sshState, '1');
    await waitFor('hard problems', async () => {
      const [a, b] = [await status('agent1/flip'), await status('node2/flip')];
      const c = await status('agent2/flip'); // the agent reads the same state file
      return a.stateName === 'CRITICAL' && a.stateType === 'HARD' && b.stateName === 'WARNING' && b.stateType === 'HARD' && c.stateName === 'CRITICAL';
    });
  });

  it('a dead agent is a CRITICAL with a clear reason', async () => {
    writeFileSync(nrpeState, '0');
    await waitFor('agent OK again', async () => (await status('agent1/flip')).stateName === 'OK');
    await nrpe!.stop();
    await waitFor('agent unreachable', async () => {
      const s = await status('agent1/flip');
      return s.stateName === 'CRITICAL' && /connect/i.test(s.output);
    });
    // The host is checked with _NRPE_CHECK: a dead agent makes it DOWN (it was assumed UP before).
    await waitFor('host agent1 DOWN', async () => (await status('agent1')).stateName === 'DOWN');
    expect((await status('agent1')).output).toMatch(/^CHECK_NRPE: Error - Could not connect to 127\.0\.0\.1:\d+: Connection refused/);
  });
});
