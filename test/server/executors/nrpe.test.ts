import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePacket, encodePacket, expectedPacketLength, PacketType, type NrpeVersion } from '../../../nagios/nrpe.ts';
import { State } from '../../../nagios/states.ts';
import { createNrpeExecutor, buildQuery } from '../../../server/executors/nrpe.ts';
import type { CheckRequest, NrpeTlsConfig, NrpeTransport } from '../../../server/executors/types.ts';
import { freePort, makePki, readableTempDir, startNrpe, type Daemon, type Pki } from './daemons.ts';

const DUMMY = '/usr/lib/nagios/plugins/check_dummy';
const COMMANDS = {
  ok: `${DUMMY} 0 fine`,
  warn: `${DUMMY} 1 'disk at 85%'`,
  crit: `${DUMMY} 2 down`,
  echo: '/bin/echo $ARG1$',
  perf: "/usr/bin/printf 'LOAD OK - load 0.1|load1=0.1;1;2;0; load5=0.2\\nsecond line\\n'",
  long: '/usr/bin/seq 1 20000',
  exit7: '/bin/sh -c "echo weird; exit 7"',
  slow: '/bin/sleep 30',
};

const ADH: NrpeTlsConfig = { enabled: true, verify: false };
const PLAIN: NrpeTlsConfig = { enabled: false, verify: false };

function request(port: number, command: string, args: string[] = [], over: Partial<NrpeTransport> = {}, timeoutMs = 10_000): CheckRequest {
  const transport: NrpeTransport = { kind: 'nrpe', port, tls: ADH, packetVersion: 4, unreachableState: State.CRITICAL, ...over };
  return { hostName: 'node1', address: '127.0.0.1', transport, command: { kind: 'nrpe', command, args }, timeoutMs, timeoutState: State.CRITICAL };
}

/** A fake agent: `answer` gets each decoded query and returns the reply bytes, or null to hang up. */
async function fakeAgent(answer: (version: NrpeVersion, text: string) => Buffer | null | 'silent'): Promise<{ port: number; versions: number[]; close(): Promise<void> }> {
  const versions: number[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      let need = 0;
      try {
        need = expectedPacketLength(buf);
      } catch {
        s.destroy();
        return;
      }
      if (need === 0 || buf.length < need) return;
      const q = decodePacket(buf.subarray(0, need));
      versions.push(q.version);
      const reply = answer(q.version, q.text);
      if (reply === 'silent') return;
      if (reply === null) s.destroy();
      else s.end(reply);
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    port,
    versions,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe('buildQuery', () => {
  it('joins arguments with ! and refuses what NRPE cannot carry', () => {
    expect(buildQuery('check_x', ['a', 'b c'])).toBe('check_x!a!b c');
    expect(() => buildQuery('check_x', ['a!b'])).toThrow(/argument 1 .* contains '!'/);
    expect(() => buildQuery('check_x', Array.from({ length: 17 }, () => 'x'))).toThrow(/at most 16/);
    expect(() => buildQuery('', [])).toThrow(/empty/);
  });
});

describe('NRPE executor against stock nrpe 4.1 (anonymous DH, the default)', () => {
  let nrpe: Daemon;
  const exec = createNrpeExecutor();
  beforeAll(async () => {
    nrpe = await startNrpe({ tls: 'adh', commands: COMMANDS });
  });
  afterAll(async () => {
    await exec.close();
    await nrpe?.stop();
  });

  it('runs commands and maps result codes to states', async () => {
    const ok = await exec.run(request(nrpe.port, 'ok'));
    expect(ok).toMatchObject({ state: State.OK, output: 'OK: fine' });
    expect(ok.failure).toBeUndefined();
    expect(ok.durationMs).toBeGreaterThan(0);
    expect(Math.abs(ok.executedAt - Date.now())).toBeLessThan(10_000);
    expect(await exec.run(request(nrpe.port, 'warn'))).toMatchObject({ state: State.WARNING, output: 'WARNING: disk at 85%' });
    expect(await exec.run(request(nrpe.port, 'crit'))).toMatchObject({ state: State.CRITICAL, output: 'CRITICAL: down' });
    // The daemon maps exit codes outside 0..3 to 3 itself.
    expect(await exec.run(request(nrpe.port, 'exit7'))).toMatchObject({ state: State.UNKNOWN, output: 'weird' });
  });

  it('parses perfdata and long output with the Nagios rules', async () => {
    const r = await exec.run(request(nrpe.port, 'perf'));
    expect(r.output).toBe('LOAD OK - load 0.1');
    expect(r.longOutput).toBe('second line');
    expect(r.perfdata.map((p) => p.label)).toEqual(['load1', 'load5']);
  });

  it('answers _NRPE_CHECK; arguments are refused by Debian\'s nrpe (built without command args) with a clear line', async () => {
    expect(await exec.run(request(nrpe.port, '_NRPE_CHECK'))).toMatchObject({ state: State.OK, output: 'NRPE v4.1.0' });
    const r = await exec.run(request(nrpe.port, 'echo', ['hello world']));
    expect(r).toMatchObject({ state: State.UNKNOWN, failure: 'protocol' });
    expect(r.output).toMatch(/^CHECK_NRPE: Received 0 bytes from daemon at 127\.0\.0\.1:\d+ for echo\. .*dont_blame_nrpe=1/);
    expect(nrpe.log()).toContain('Request contained command arguments');
  });

  it('receives long output (64 KiB v4 packets)', async () => {
    const r = await exec.run(request(nrpe.port, 'long'));
    expect(r.state).toBe(State.OK);
    expect(r.output).toBe('1');
    const lines = r.longOutput.split('\n');
    expect(lines.length).toBeGreaterThan(10_000);
    expect(lines.slice(0, 3)).toEqual(['2', '3', '4']);
    // nrpe 4.1 caps the output at 65535 bytes; the last line may be cut.
    expect(r.longOutput.length).toBeGreaterThan(60_000);
  });

  it('forced v2 (check_nrpe -2) cuts output at 1023 bytes; forced v3 is refused by a 4.x daemon', async () => {
    const r = await exec.run(request(nrpe.port, 'long', [], { packetVersion: 2 }));
    expect(r.state).toBe(State.OK);
    expect(r.output.length + 1 + r.longOutput.length).toBe(1023);
    const v3 = await exec.run(request(nrpe.port, 'ok', [], { packetVersion: 3 }));
    expect(v3.state).toBe(State.UNKNOWN);
    expect(v3.failure).toBe('protocol');
    expect(v3.output).toMatch(/^CHECK_NRPE: Received 0 bytes from daemon/);
  });

  it('an unknown command is the daemon\'s UNKNOWN answer', async () => {
    expect(await exec.run(request(nrpe.port, 'nosuch'))).toMatchObject({ state: State.UNKNOWN, output: "NRPE: Command 'nosuch' not defined" });
  });

  it('times out on a command that does not finish, with the timeout state', async () => {
    const r = await exec.run(request(nrpe.port, 'slow', [], {}, 1500));
    expect(r).toMatchObject({ state: State.CRITICAL, failure: 'timeout' });
    expect(r.output).toMatch(/^CHECK_NRPE: Socket timeout after 1\.5 s waiting for the answer to slow/);
    expect(r.durationMs).toBeLessThan(3000);
  });

  it('plain TCP to a TLS agent fails clearly (no hang)', async () => {
    const r = await exec.run(request(nrpe.port, 'ok', [], { tls: PLAIN }, 5000));
    expect(r.state).not.toBe(State.OK);
    expect(r.output).toMatch(/^CHECK_NRPE: /);
    expect(r.output).toMatch(/does the agent expect TLS\? this check uses plain TCP/);
  });

  it('runs many checks in parallel', async () => {
    const names = Array.from({ length: 40 }, (_, i) => (i % 2 ? 'ok' : 'warn'));
    const runs = await Promise.all(names.map((n) => exec.run(request(nrpe.port, n))));
    expect(runs.map((r) => r.output)).toEqual(names.map((n) => (n === 'ok' ? 'OK: fine' : 'WARNING: disk at 85%')));
  });
});

describe('NRPE executor against nrpe -n (plain TCP)', () => {
  let nrpe: Daemon;
  const exec = createNrpeExecutor();
  beforeAll(async () => {
    nrpe = await startNrpe({ tls: 'plain', commands: COMMANDS });
  });
  afterAll(async () => {
    await exec.close();
    await nrpe?.stop();
  });

  it('runs a check without TLS', async () => {
    expect(await exec.run(request(nrpe.port, 'warn', [], { tls: PLAIN }))).toMatchObject({ state: State.WARNING, output: 'WARNING: disk at 85%' });
    expect(await exec.run(request(nrpe.port, 'long', [], { tls: PLAIN }))).toMatchObject({ state: State.OK, output: '1' });
  });

  it('TLS to a plain agent fails with a hint, in the unreachable state', async () => {
    const r = await exec.run(request(nrpe.port, 'ok', [], { unreachableState: State.UNKNOWN }, 5000));
    expect(r).toMatchObject({ state: State.UNKNOWN, failure: 'tls' });
    expect(r.output).toMatch(/^CHECK_NRPE: Error - Could not complete TLS handshake with 127\.0\.0\.1:\d+: .*without TLS/);
  });
});

describe('NRPE executor in certificate mode (nrpe with ssl_client_certs=2)', () => {
  let nrpe: Daemon;
  let pki: Pki;
  let dir: string;
  const exec = createNrpeExecutor();
  beforeAll(async () => {
    dir = readableTempDir('hawatch-pki-');
    pki = makePki(dir);
    nrpe = await startNrpe({ tls: 'cert', pki, commands: COMMANDS });
  });
  afterAll(async () => {
    await exec.close();
    await nrpe?.stop();
  });

  const certTls = (over: Partial<NrpeTlsConfig> = {}): NrpeTlsConfig => ({ enabled: true, verify: true, caFile: pki.caCert, certFile: pki.clientCert, keyFile: pki.clientKey, ...over });

  it('verifies the agent against the CA and presents the client certificate', async () => {
    expect(await exec.run(request(nrpe.port, 'ok', [], { tls: certTls() }))).toMatchObject({ state: State.OK, output: 'OK: fine' });
    // The certificate names agent.test; connecting by IP with serverName set works too.
    const r = await exec.run(request(nrpe.port, 'warn', [], { tls: certTls({ serverName: 'agent.test' }) }));
    expect(r.output).toBe('WARNING: disk at 85%');
    expect(r.state).toBe(State.WARNING);
  });

  it('refuses an agent whose certificate another CA signed', async () => {
    const r = await exec.run(request(nrpe.port, 'ok', [], { tls: certTls({ caFile: pki.otherCaCert }) }));
    expect(r).toMatchObject({ state: State.CRITICAL, failure: 'tls' });
    expect(r.output).toMatch(/not signed by the configured CA/);
  });

  it('refuses a certificate that does not carry the expected name', async () => {
    const r = await exec.run(request(nrpe.port, 'ok', [], { tls: certTls({ serverName: 'db1.example' }) }));
    expect(r).toMatchObject({ failure: 'tls' });
    expect(r.output).toMatch(/db1\.example.*serverName/);
  });

  it('the agent refuses us without a client certificate', async () => {
    const r = await exec.run(request(nrpe.port, 'ok', [], { tls: certTls({ certFile: undefined, keyFile: undefined }) }));
    expect(r).toMatchObject({ state: State.CRITICAL, failure: 'tls' });
    expect(r.output).toMatch(/^CHECK_NRPE: TLS error from 127\.0\.0\.1:\d+: .*the agent requires a client certificate \(set certFile and keyFile\)$/);
  });

  it('a missing CA file is a clear UNKNOWN', async () => {
    const r = await exec.run(request(nrpe.port, 'ok', [], { tls: certTls({ caFile: `${dir}/nope.crt` }) }));
    expect(r).toMatchObject({ state: State.UNKNOWN, failure: 'tls' });
    expect(r.output).toMatch(/CA file .*nope\.crt: no such file/);
  });
});

describe('NRPE executor against fake agents', () => {
  it('falls back to v2 when the agent drops v4 queries, like check_nrpe 4.x', async () => {
    const agent = await fakeAgent((v, text) => (v === 4 ? null : encodePacket({ version: 2, type: PacketType.RESPONSE, resultCode: 1, text: `old agent ran ${text}` })));
    const exec = createNrpeExecutor({ rememberV2ForMs: 0 });
    try {
      const r = await exec.run(request(agent.port, 'check_x', ['a'], { tls: PLAIN }));
      expect(r).toMatchObject({ state: State.WARNING, output: 'old agent ran check_x!a' });
      expect(agent.versions).toEqual([4, 2]);
      // Forcing v4-only is not possible (4 means "with fallback"); forcing v2 sends v2 once.
      await exec.run(request(agent.port, 'check_x', [], { tls: PLAIN, packetVersion: 2 }));
      expect(agent.versions).toEqual([4, 2, 2]);
    } finally {
      await exec.close();
      await agent.close();
    }
  });

  it('remembers an agent that needed v2 so later checks pay one connection', async () => {
    const agent = await fakeAgent((v) => (v === 4 ? null : encodePacket({ version: 2, type: PacketType.RESPONSE, text: 'OK' })));
    const exec = createNrpeExecutor();
    try {
      await exec.run(request(agent.port, 'a', [], { tls: PLAIN }));
      await exec.run(request(agent.port, 'a', [], { tls: PLAIN }));
      expect(agent.versions).toEqual([4, 2, 2]);
    } finally {
      await exec.close();
      await agent.close();
    }
  });

  it('a v2 answer to a v4 query makes it retry with v2 (NSClient++ style)', async () => {
    const agent = await fakeAgent((v) => encodePacket({ version: 2, type: PacketType.RESPONSE, text: v === 4 ? 'Invalid packet version.3' : 'OK: v2 spoken' }));
    const exec = createNrpeExecutor({ rememberV2ForMs: 0 });
    try {
      expect(await exec.run(request(agent.port, 'x', [], { tls: PLAIN }))).toMatchObject({ state: State.OK, output: 'OK: v2 spoken' });
      expect(agent.versions).toEqual([4, 2]);
    } finally {
      await exec.close();
      await agent.close();
    }
  });

  it('times out against an agent that never answers', async () => {
    const agent = await fakeAgent(() => 'silent');
    const exec = createNrpeExecutor();
    try {
      const t0 = performance.now();
      const r = await exec.run({ ...request(agent.port, 'x', [], { tls: PLAIN }, 800), timeoutState: State.UNKNOWN });
      expect(performance.now() - t0).toBeLessThan(2000);
      expect(r).toMatchObject({ state: State.UNKNOWN, failure: 'timeout' });
      expect(r.output).toBe("CHECK_NRPE: Socket timeout after 0.8 s waiting for the answer to x from 127.0.0.1:" + agent.port);
    } finally {
      await exec.close();
      await agent.close();
    }
  });

  it('times out in the TLS handshake against a TCP server that says nothing', async () => {
    const silent = createServer(() => undefined);
    const port = await freePort();
    await new Promise<void>((r) => silent.listen(port, '127.0.0.1', r));
    const exec = createNrpeExecutor();
    try {
      const r = await exec.run(request(port, 'x', [], {}, 700));
      expect(r).toMatchObject({ state: State.CRITICAL, failure: 'timeout' });
      expect(r.output).toMatch(/during the TLS handshake with 127\.0\.0\.1:/);
    } finally {
      await exec.close();
      silent.close();
    }
  });

  it('refuses answers larger than the configured limit', async () => {
    const agent = await fakeAgent(() => encodePacket({ version: 4, type: PacketType.RESPONSE, text: 'x'.repeat(5000) }));
    const exec = createNrpeExecutor({ maxResponseBytes: 2048, rememberV2ForMs: 0 });
    try {
      const r = await exec.run(request(agent.port, 'x', [], { tls: PLAIN, packetVersion: 3 }));
      expect(r).toMatchObject({ state: State.UNKNOWN, failure: 'protocol' });
      expect(r.output).toMatch(/Invalid packet version|announces 5017 bytes/);
      const r4 = await exec.run(request(agent.port, 'x', [], { tls: PLAIN }));
      expect(r4.output).toMatch(/announces 5017 bytes, more than the 2048 accepted/);
    } finally {
      await exec.close();
      await agent.close();
    }
  });

  it('reports a corrupted answer (bad CRC) as UNKNOWN after the v2 retry', async () => {
    const agent = await fakeAgent((v) => {
      const p = encodePacket({ version: v, type: PacketType.RESPONSE, text: 'OK' });
      p.writeUInt8(p.readUInt8(6) ^ 0xff, 6);
      return p;
    });
    const exec = createNrpeExecutor({ rememberV2ForMs: 0 });
    try {
      const r = await exec.run(request(agent.port, 'x', [], { tls: PLAIN }));
      expect(r).toMatchObject({ state: State.UNKNOWN, failure: 'protocol' });
      expect(r.output).toMatch(/CRC mismatch/);
      expect(agent.versions).toEqual([4, 2]);
    } finally {
      await exec.close();
      await agent.close();
    }
  });

  it('connection refused gives the unreachable state and the check_nrpe wording', async () => {
    const port = await freePort();
    const exec = createNrpeExecutor();
    const r = await exec.run(request(port, 'x'));
    expect(r).toMatchObject({ state: State.CRITICAL, failure: 'connect' });
    expect(r.output).toBe(`CHECK_NRPE: Error - Could not connect to 127.0.0.1:${port}: Connection refused`);
    const u = await exec.run(request(port, 'x', [], { unreachableState: State.UNKNOWN }));
    expect(u.state).toBe(State.UNKNOWN);
    await exec.close();
  });

  it('an agent killed mid-check is a dead peer in the unreachable state, and abort stops a check', async () => {
    const sockets: Socket[] = [];
    const server = createServer((s) => {
      sockets.push(s);
      s.on('error', () => undefined);
      s.once('data', () => s.resetAndDestroy());
    });
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    const exec = createNrpeExecutor({ rememberV2ForMs: 0 });
    try {
      const r = await exec.run(request(port, 'x', [], { tls: PLAIN, unreachableState: State.UNKNOWN }));
      expect(r).toMatchObject({ state: State.UNKNOWN, failure: 'connect' });
      expect(r.output).toMatch(/Connection reset by peer/);
      const ac = new AbortController();
      const hang = await fakeAgent(() => 'silent');
      const p = exec.run({ ...request(hang.port, 'x', [], { tls: PLAIN }), signal: ac.signal });
      setTimeout(() => ac.abort(), 100);
      expect(await p).toMatchObject({ state: State.UNKNOWN, failure: 'aborted' });
      await hang.close();
    } finally {
      await exec.close();
      server.close();
    }
  });
});
