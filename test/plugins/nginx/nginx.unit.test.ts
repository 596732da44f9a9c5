/**
 * check_ha_nginx parsing and judging on captures from a real nginx 1.22 (Debian bookworm):
 * `nginx -T` of a load balancer with http and stream upstreams, and the error logs it wrote
 * when every upstream server was unreachable. The log reader on real files in a temp dir.
 */
import { appendFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRange } from '../../../nagios/range.ts';
import { effectiveState, render } from '../../../nagios/result.ts';
import { State } from '../../../nagios/states.ts';
import { readLogSince } from '../../../plugins/nginx/collect.ts';
import { evaluate, type NginxPolicy, type Observations, type UpstreamView } from '../../../plugins/nginx/evaluate.ts';
import { parseExpect } from '../../../plugins/nginx/index.ts';
import { parseFile, parseLog, parseStubStatus, parseTime, readConfig, splitDump, tokenize, upstreamOf, type Upstream } from '../../../plugins/nginx/parse.ts';
import { readFixture } from '../../support/paths.ts';
import { removeDir, tempDir } from '../../support/tmp.ts';

const dump = readFixture('nginx', 'lb-http-stream.nginx-T.txt');
const config = readConfig(splitDump(dump));
const up = (name: string): Upstream => config.upstreams.find((u) => u.name === name)!;

const policy = (over: Partial<NginxPolicy> = {}): NginxPolicy => ({
  serverThresholds: {},
  logThresholds: { warning: parseRange('0') },
  upstreams: [],
  excludeUpstreams: [],
  ...over,
});

/** Every server of an upstream probed: `down` ones not, the listed peers failing. */
function view(u: Upstream, failing: readonly string[] = []): UpstreamView {
  return {
    upstream: u,
    probe: 'TCP connect',
    peers: u.servers.map((s) => {
      const peer = 'path' in s.target ? `unix:${s.target.path}` : `${s.target.host === 'localhost' ? '127.0.0.1' : s.target.host}:${s.target.port}`;
      if (s.down) return { server: s, peer };
      const ok = !failing.includes(peer);
      return { server: s, peer, ok, detail: ok ? 'connected' : 'connection refused', ms: 1 };
    }),
  };
}

function obs(views: UpstreamView[], over: Partial<Observations> = {}): Observations {
  return { upstreams: views, logNotes: [], now: Date.now() / 1000, ...over };
}

describe('nginx -T dump', () => {
  it('upstreams with their context, the schemes that use them and the server parameters', () => {
    expect(config.upstreams.map((u) => [u.name, u.context, u.schemes.join('+')])).toEqual([
      ['web_backend', 'http', 'http'],
      ['api_tls', 'http', 'https'],
      ['php_fpm', 'http', 'fastcgi'],
      ['galera', 'stream', 'stream'],
    ]);
    const web = up('web_backend').servers;
    expect(web.map((s) => [s.address, s.weight, s.maxFails, s.failTimeout, s.backup, s.down])).toEqual([
      ['127.0.0.1:1', 2, 3, 90, false, false],
      ['127.0.0.1:2', 1, 3, 90, false, false],
      ['127.0.0.1:3', 1, 1, 10, true, false],
      ['127.0.0.1:4', 1, 1, 10, false, true],
    ]);
    expect(up('php_fpm').servers[0]!.target).toEqual({ path: '/tmp/ngfx/php-fpm.sock' });
    expect(up('api_tls').servers[0]).toMatchObject({ target: { host: 'localhost', port: 5 }, maxFails: 0 });
    expect(up('galera').servers.map((s) => [s.maxFails, s.failTimeout, s.backup])).toEqual([[2, 5, false], [2, 5, false], [1, 10, true]]);
    // The main error_log and the one of the server block; the pid file.
    expect(config.errorLogs).toEqual(['/tmp/ngfx/log/error.log', '/tmp/ngfx/log/site-error.log']);
    expect(config.pidFile).toBe('/tmp/ngfx/nginx.pid');
  });

  it('include globs expand in place and in order; the context comes from where the file is included', () => {
    const files = new Map([
      ['/etc/nginx/nginx.conf', 'http { include conf.d/*.conf; }\nstream { include /etc/nginx/stream.d/*; }\n'],
      ['/etc/nginx/conf.d/b.conf', 'upstream b { server 10.0.0.2; }'],
      ['/etc/nginx/conf.d/a.conf', 'upstream a { server 10.0.0.1:8080; }'],
      ['/etc/nginx/conf.d/sub/c.conf', 'upstream nested { server 10.0.0.9:1; }'],
      ['/etc/nginx/stream.d/tcp', 'upstream tcp { server 10.0.0.3:5432; }'],
    ]);
    const c = readConfig({ main: '/etc/nginx/nginx.conf', files });
    expect(c.upstreams.map((u) => `${u.name}/${u.context}`)).toEqual(['a/http', 'b/http', 'tcp/stream']);
    expect(c.upstreams[1]!.servers[0]!.target).toEqual({ host: '10.0.0.2', port: 80 });
    expect(c.errorLogs).toEqual([]);
    // A stream server without a port is refused with its place.
    expect(() => readConfig({ main: '/x.conf', files: new Map([['/x.conf', 'stream { upstream s {\n server 10.0.0.1; } }']]) })).toThrow(/cannot read the server address 10\.0\.0\.1 in upstream s \(\/x\.conf line 2\)/);
  });

  it('tokenizer: quotes and escapes, comments only at a token start, ${var} in a word, errors with the line', () => {
    expect(tokenize('a "b c" \'d;e\' f#g # comment\n${x}y "q\\"r";', 'f').map((t) => t.text)).toEqual(['a', 'b c', 'd;e', 'f#g', '${x}y', 'q"r', ';']);
    expect(parseFile('http {\n upstream u { server 1.2.3.4; }\n}', 'f')[0]!.block![0]).toMatchObject({ name: 'upstream', args: ['u'], line: 2 });
    expect(() => parseFile('http {\n server {}\n', 'f')).toThrow(/unexpected end of f: a block is not closed/);
    expect(() => parseFile('a "b', 'f')).toThrow(/unclosed quote in f line 1/);
    expect(() => splitDump('nginx: [emerg] unknown directive')).toThrow(/not the output of nginx -T/);
  });

  it('nginx times, expected statuses, stub_status', () => {
    expect([parseTime('10'), parseTime('1m30s'), parseTime('500ms'), parseTime('2h'), parseTime('x')]).toEqual([10, 90, 0.5, 7200, undefined]);
    const e = parseExpect('200,301-302,4xx');
    expect([200, 301, 302, 303, 404, 500].map(e)).toEqual([true, true, true, false, true, false]);
    expect(() => parseExpect('ok')).toThrow(/invalid --expect/);
    // As nginx 1.22 serves it.
    expect(parseStubStatus('Active connections: 3 \nserver accepts handled requests\n 17 16 40 \nReading: 0 Writing: 1 Waiting: 2 \n')).toEqual({ active: 3, accepts: 17, handled: 16, requests: 40, reading: 0, writing: 1, waiting: 2 });
    expect(() => parseStubStatus('<html>')).toThrow(/not a stub_status page/);
  });
});

describe('error log lines', () => {
  it('the upstream of every kind of line: http with a URI, https, fastcgi over a unix socket, stream', () => {
    expect(upstreamOf('http://127.0.0.1:1/')).toBe('127.0.0.1:1');
    expect(upstreamOf('https://127.0.0.1:6/v1/x')).toBe('127.0.0.1:6');
    expect(upstreamOf('fastcgi://unix:/tmp/ngfx/php-fpm.sock:')).toBe('unix:/tmp/ngfx/php-fpm.sock');
    expect(upstreamOf('http://[::1]:8080/a')).toBe('[::1]:8080');
    expect(upstreamOf('http://web_backend/')).toBe('web_backend');
    expect(upstreamOf('galera')).toBe('galera');
    const site = parseLog(readFixture('nginx', 'error-log/site-error.log'));
    expect(site.filter((e) => e.kind === 'no-live').map((e) => e.upstream)).toEqual(['web_backend', 'web_backend']);
    expect(site.filter((e) => e.kind === 'connect')).toHaveLength(13);
    expect(site.at(-1)).toMatchObject({ kind: 'connect', upstream: 'unix:/tmp/ngfx/php-fpm.sock' });
    const stream = parseLog(readFixture('nginx', 'error-log/stream-error.log'));
    expect(stream.map((e) => e.kind).filter((k) => k === 'disabled')).toHaveLength(4);
    expect(stream.filter((e) => e.kind === 'no-live').map((e) => e.upstream)).toEqual(['galera', 'galera']);
    // Local time of the line.
    expect(new Date(stream[0]!.time * 1000).getMinutes()).toBe(35);
  });
});

describe('evaluate', () => {
  it('all up: OK, the down server not counted, the backup apart', () => {
    const r = evaluate(obs([view(up('web_backend'))]), policy());
    expect(effectiveState(r)).toBe(State.OK);
    const text = render(r, { prefix: 'NGINX' }).text;
    expect(text).toMatch(/^NGINX OK - 1\/1 upstreams fully usable \|/);
    expect(text).toContain('web_backend_servers_up=2;2:;1:;0;2');
    expect(text).toContain('[OK] server 127.0.0.1:4: marked down in the configuration, not counted');
  });

  it('one down WARNING, none CRITICAL unless a backup serves (WARNING), -w/-c replace the defaults', () => {
    const one = evaluate(obs([view(up('web_backend'), ['127.0.0.1:1'])]), policy());
    expect(effectiveState(one)).toBe(State.WARNING);
    const both = evaluate(obs([view(up('web_backend'), ['127.0.0.1:1', '127.0.0.1:2'])]), policy());
    expect(effectiveState(both)).toBe(State.WARNING);
    expect(render(both, { prefix: 'NGINX' }).text).toMatch(/0\/2 active servers usable, served by 1 backup server/);
    const all = evaluate(obs([view(up('web_backend'), ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3'])]), policy());
    expect(effectiveState(all)).toBe(State.CRITICAL);
    const lenient = evaluate(obs([view(up('web_backend'), ['127.0.0.1:1'])]), policy({ serverThresholds: { warning: parseRange('1:'), critical: parseRange('1:') } }));
    expect(effectiveState(lenient)).toBe(State.OK);
  });

  it('max_fails=0 down: said that nginx keeps sending it requests', () => {
    const r = evaluate(obs([view(up('api_tls'), ['127.0.0.1:5'])]), policy());
    expect(render(r, { prefix: 'NGINX' }).text).toMatch(/server 127\.0\.0\.1:5: down, connection refused, max_fails=0: nginx never takes it out and keeps sending it requests/);
  });

  it('log events per upstream: no live upstreams CRITICAL, connect errors WARNING (per --log-warning), mapped by peer', () => {
    const events = parseLog(readFixture('nginx', 'error-log/site-error.log') + readFixture('nginx', 'error-log/stream-error.log'));
    // Long after the lines: the disabled ones no longer keep a server out.
    const now = events.at(-1)!.time + 3600;
    const r = evaluate(obs([view(up('web_backend')), view(up('api_tls')), view(up('php_fpm')), view(up('galera'))], { events, now }), policy());
    const text = render(r, { prefix: 'NGINX', maxBytes: 65536 }).text;
    expect(text).toMatch(/upstream web_backend[^\n]*\n(  .*\n)*  \[CRITICAL\] error log: since the last run: 2 no live upstreams \(requests failed\), 10 connect errors\n/);
    expect(text).toMatch(/\[CRITICAL\] error log: since the last run: 2 no live upstreams \(requests failed\), 8 connect errors, 4 temporarily disabled\n/);
    expect(text).toMatch(/web_backend_log_no_live=2;;;0/);
    expect(text).toMatch(/api_tls_log_connect_errors=2;0;;0/);
    expect(text).toMatch(/php_fpm_log_connect_errors=1;0;;0/);
    expect(text).toMatch(/galera_log_disabled=4;;;0/);
    expect(effectiveState(r)).toBe(State.CRITICAL);
    const quiet = evaluate(obs([view(up('api_tls'))], { events, now }), policy({ logThresholds: { warning: parseRange('5') } }));
    expect(effectiveState(quiet)).toBe(State.OK);
  });

  it('fail_timeout: a server up but disabled by nginx less than fail_timeout ago is not usable; later it is', () => {
    const events = parseLog(readFixture('nginx', 'error-log/stream-error.log'));
    const last = events.at(-1)!.time;
    const g = up('galera');
    const soon = evaluate(obs([view(g)], { events, now: last + 2 }), policy({ logThresholds: {} }));
    // All three were disabled by the lines (the backup too): nothing left.
    expect(effectiveState(soon)).toBe(State.CRITICAL);
    expect(render(soon, { prefix: 'NGINX' }).text).toMatch(/upstream galera: 0\/2 active servers usable \(critical below 1\), 127\.0\.0\.1:7 taken out by nginx, 127\.0\.0\.1:8 taken out by nginx, 0\/1 backup/);
    // fail_timeout=5s for 127.0.0.1:7 and :8; 10s for the backup :9.
    const later = evaluate(obs([view(g)], { events, now: last + 6 }), policy({ logThresholds: {} }));
    // (CRITICAL still: the no live upstreams lines are since the last run.)
    expect(later.children!.find((c) => c.name === 'upstream galera')!.state).toBe(State.OK);
    expect(render(later, { prefix: 'NGINX' }).text).toMatch(/upstream galera: 2\/2 active servers usable, 0\/1 backup/);
    expect(render(later, { prefix: 'NGINX' }).text).toMatch(/backup: 0\/1 backup servers usable \(127\.0\.0\.1:9 taken out by nginx\)/);
    const done = evaluate(obs([view(g)], { events, now: last + 11 }), policy({ logThresholds: {} }));
    expect(render(done, { prefix: 'NGINX' }).text).toMatch(/upstream galera: 2\/2 active servers usable, 1\/1 backup/);
    // Without the log, the probes alone: OK.
    expect(effectiveState(evaluate(obs([view(g)], { now: last + 2 }), policy()))).toBe(State.OK);
  });

  it('--upstream selects by glob, and names what exists when nothing matches', () => {
    const views = config.upstreams.map((u) => view(u));
    const r = evaluate(obs(views), policy({ upstreams: ['web_*', 'galera'] }));
    expect(render(r, { prefix: 'NGINX' }).text).toMatch(/^NGINX OK - 2\/2 upstreams fully usable/);
    const none = evaluate(obs(views), policy({ upstreams: ['nope'] }));
    expect(render(none, { prefix: 'NGINX' }).text).toMatch(/no upstream matches --upstream nope \(have: web_backend, api_tls, php_fpm, galera\)/);
  });
});

describe('error log read position across runs', () => {
  let dir = '';
  afterEach(() => dir && removeDir(dir));
  const line = (n: number) => `2026/11/29 09:35:36 [error] 1#1: *${n} connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: _, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:1/", host: "x"\n`;

  it('first run reads nothing; appended lines once; rotation to .1 reads its rest then the new file; a lost rest says so', async () => {
    dir = tempDir('hawatch-nginxlog-');
    const log = join(dir, 'error.log');
    const state = join(dir, 'state');
    writeFileSync(log, line(1));
    const first = await readLogSince(log, state, new AbortController().signal);
    expect(first).toMatchObject({ firstRun: true, text: '' });
    appendFileSync(log, line(2));
    const second = await readLogSince(log, state, new AbortController().signal);
    expect(parseLog(second.text)).toHaveLength(1);
    expect((await readLogSince(log, state, new AbortController().signal)).text).toBe('');
    appendFileSync(log, line(3));
    renameSync(log, `${log}.1`);
    writeFileSync(log, line(4) + line(5));
    const rotated = await readLogSince(log, state, new AbortController().signal);
    expect(rotated).toMatchObject({ rotated: true, lostRest: undefined });
    expect(rotated.text).toBe(line(3) + line(4) + line(5));
    rmSync(`${log}.1`);
    renameSync(log, `${log}.1`);
    rmSync(`${log}.1`);
    writeFileSync(log, line(6));
    const lost = await readLogSince(log, state, new AbortController().signal);
    expect(lost.lostRest).toMatch(/error\.log\.1 cannot be read/);
    expect(lost.text).toBe(line(6));
    // copytruncate: same inode, shorter than the position.
    writeFileSync(log, '');
    const truncated = await readLogSince(log, state, new AbortController().signal);
    expect(truncated.rotated).toBe(true);
    expect(readdirSync(state).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a missing log is an error naming the file', async () => {
    dir = tempDir('hawatch-nginxlog-');
    await expect(readLogSince(join(dir, 'none.log'), join(dir, 'state'), new AbortController().signal)).rejects.toThrow(/cannot read the error log .*none\.log: no such file/);
  });
});
