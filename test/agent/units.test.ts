import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { planCommand, refuseArguments, substituteArgs } from '../../agent/commands.ts';
import { ConfigError, configProblems, loadConfig, parseConfigText } from '../../agent/config.ts';
import { buildAllowedHosts } from '../../agent/hosts.ts';
import { finishOutput, fitAnswer, normalizeCode } from '../../agent/run.ts';
import { plugins } from '../../plugins/registry.ts';
import { pluginOptions } from '../../nagios/plugin.ts';
import { expandMacros, splitCommandLine } from '../../agent/shellwords.ts';
import { requireFile } from '../support/require.ts';
import { cleanup, run, tempDir } from './helpers.ts';
import { testPlugin } from './fixtures/test-plugin.ts';

afterAll(cleanup);

describe('shell-words splitter', () => {
  const words = (line: string): readonly string[] => {
    const r = splitCommandLine(line);
    if (r.kind !== 'words') throw new Error(`needs a shell: ${r.reason}`);
    return r.words;
  };
  it('splits plain words, quotes and escapes', () => {
    expect(words('/usr/lib/nagios/plugins/check_load -r -w .15,.10,.05 -c .30,.25,.20')).toEqual(['/usr/lib/nagios/plugins/check_load', '-r', '-w', '.15,.10,.05', '-c', '.30,.25,.20']);
    expect(words(`a 'b c' "d e" f\\ g "h\\"i" 'j"k' "l'm" ''`)).toEqual(['a', 'b c', 'd e', 'f g', 'h"i', 'j"k', "l'm", '']);
    expect(words('a\t\tb   c')).toEqual(['a', 'b', 'c']);
    expect(words(`perl -e 'print "x" x 3; exit 1'`)).toEqual(['perl', '-e', 'print "x" x 3; exit 1']);
    expect(words('check -w 10% -c @5:10 -x a=b')).toEqual(['check', '-w', '10%', '-c', '@5:10', '-x', 'a=b']);
  });
  it('keeps NRPE macros in the words', () => {
    expect(words('check_x -w $ARG1$ -c "$ARG2$" --x=$ARG3$$ARG4$ $$')).toEqual(['check_x', '-w', '$ARG1$', '-c', '$ARG2$', '--x=$ARG3$$ARG4$', '$$']);
  });
  it('sends shell syntax to the shell', () => {
    for (const line of ['a | b', 'a > /tmp/x', 'a < b', 'a; b', 'a && b', 'a &', 'echo $HOME', 'echo "$HOME"', 'echo `id`', 'echo "`id`"', 'ls *.cfg', 'ls ?', 'ls [ab]', 'cd ~', 'a # comment', 'LANG=C check_x', 'echo $(id)', "echo 'unterminated", 'echo "unterminated', '(a)', '{ a; }']) {
      expect(splitCommandLine(line).kind, line).toBe('shell');
    }
  });
  it('expands macros per word the way NRPE does', () => {
    expect(expandMacros('-w $ARG1$', ['5'])).toBe('-w 5');
    expect(expandMacros('$ARG2$/$ARG1$', ['a', 'b'])).toBe('b/a');
    expect(expandMacros('$ARG3$', ['a'])).toBe('');
    expect(expandMacros('$ARG17$', Array.from({ length: 17 }, () => 'z'))).toBe('');
    expect(expandMacros('cost $$5', [])).toBe('cost $5');
    expect(expandMacros('$USER1$/x', [])).toBe('$USER1$/x');
    expect(expandMacros('a$b', [])).toBe('a$b');
    // an argument stays one word, whatever it contains
    expect(substituteArgs(['-w', '$ARG1$'], ['1 -c 2 --evil'])).toEqual(['-w', '1 -c 2 --evil']);
  });
});

describe('command plans', () => {
  const plugins = [testPlugin];
  it('runs our check_ha_* plugins in-process, by any path, with or without .cjs or node', () => {
    for (const line of ['/usr/local/bin/check_ha_test -w 5', 'check_ha_test -w 5', '/opt/hawatch/dist/bin/check_ha_test.cjs -w 5', '/usr/bin/node /opt/x/check_ha_test.cjs -w 5']) {
      const p = planCommand('t', line, plugins);
      expect(p.kind, line).toBe('inproc');
      if (p.kind === 'inproc') expect(p.argTemplates).toEqual(['-w', '5']);
    }
  });
  it('runs anything else as a child process, or through the shell when needed', () => {
    expect(planCommand('t', '/usr/local/bin/check_ha_unknown -w 5', plugins).kind).toBe('exec');
    expect(planCommand('t', '/usr/lib/nagios/plugins/check_load -r', plugins, undefined, { exists: () => true })).toMatchObject({ kind: 'exec', file: '/usr/lib/nagios/plugins/check_load', argTemplates: ['-r'] });
    expect(planCommand('t', 'check_ha_test | head -1', plugins).kind).toBe('shell');
    expect(planCommand('t', 'check_ha_test -w 5', plugins, '/usr/bin/sudo')).toMatchObject({ kind: 'exec', file: '/usr/bin/sudo' });
  });
});

describe('NRPE output rules', () => {
  it('strips one trailing newline, ends at NUL, names empty output, bounds exit codes', () => {
    expect(finishOutput(Buffer.from('OK\n\n'), 0)).toEqual({ code: 0, output: Buffer.from('OK\n') });
    expect(finishOutput(Buffer.from('OK\0junk'), 1)).toEqual({ code: 1, output: Buffer.from('OK') });
    expect(finishOutput(Buffer.alloc(0), 0)).toEqual({ code: 3, output: Buffer.from('NRPE: Unable to read output') });
    expect(finishOutput(Buffer.from('\n'), 0)).toEqual({ code: 0, output: Buffer.alloc(0) });
    expect([0, 1, 2, 3, 4, 7, 255, -1, null].map(normalizeCode)).toEqual([0, 1, 2, 3, 3, 3, 3, 3, 3]);
  });
});

describe('arguments cannot add options', () => {
  const refuse = (line: string, args: string[]): string | undefined => refuseArguments(planCommand('x', line, [testPlugin, ...plugins]), args);
  it('in-process checks: dashed values only where the command line takes a value; restricted options never', () => {
    expect(refuse('check_ha_test -w $ARG1$ -c $ARG2$', ['-5:', '~:30'])).toBeUndefined();
    expect(refuse('check_ha_test --warning=$ARG1$', ['-5:'])).toBeUndefined();
    expect(refuse('check_ha_test -w$ARG1$', ['-5:'])).toBeUndefined();
    expect(refuse('check_ha_test -w $ARG1$ $ARG2$', ['5', '--value=3'])).toMatch(/^argument 2 may not start with a dash/);
    expect(refuse('check_ha_test $ARG1$', ['-vvv'])).toMatch(/^argument 1 /);
    expect(refuse('check_ha_test -$ARG1$', ['vvv'])).toMatch(/^argument 1 /);
    expect(refuse('check_ha_test -v$ARG1$', ['t5'])).toMatch(/^argument 1 /);
    expect(refuse('check_ha_test --$ARG1$', ['input-file=/etc/passwd'])).toMatch(/^argument 1 /);
    expect(refuse('check_ha_test --input-$ARG1$', ['file=/etc/passwd'])).toMatch(/^argument 1 /);
    expect(refuse('check_ha_test --input-file $ARG1$', ['/etc/passwd'])).toMatch(/^option --input-file names a file/);
    expect(refuse('check_ha_test --input-file=$ARG1$', ['/etc/passwd'])).toMatch(/^option --input-file names a file/);
    expect(refuse('check_ha_test --input-file=/srv/$ARG1$', ['x'])).toMatch(/^option --input-file names a file/);
    expect(refuse('check_ha_test --program $ARG1$', ['/usr/bin/id'])).toMatch(/^option --program names a program/);
    expect(refuse('check_ha_haproxy -vS$ARG1$', ['/run/x.sock'])).toMatch(/^option --socket names a file/);
    // written by the administrator: fine, and no argument given changes nothing
    expect(refuse('check_ha_test --input-file /srv/v.txt -w $ARG1$', ['5'])).toBeUndefined();
    expect(refuse('check_ha_test --input-file $ARG1$', [])).toBeUndefined();
    expect(refuse('check_ha_test --input-file $ARG1$', [''])).toBeUndefined();
  });
  it('marks every option of the checks that names a file or a program', () => {
    const marked = plugins.flatMap((p) => pluginOptions(p).filter((o) => o.restricted).map((o) => `${p.name} --${o.name}`));
    for (const o of ['check_ha_crm --crm-mon', 'check_ha_crm --cib-file', 'check_ha_drbd --drbdsetup', 'check_ha_drbd --input-file', 'check_ha_haproxy --socket', 'check_ha_haproxy --auth-file', 'check_ha_mysql --defaults-file', 'check_ha_mysql --save-input', 'check_ha_pgsql --password-file', 'check_ha_iptables --policy', 'check_ha_iptables --baseline', 'check_ha_keepalived --pid-file', 'check_ha_vip --arping', 'check_ha_lvs --ipvsadm']) expect(marked).toContain(o);
    // an option whose value is a PATH, FILE, DIR or program and is not marked is a hole
    const unmarked = plugins.flatMap((p) => pluginOptions(p).filter((o) => !o.restricted && /^(PATH|FILE|DIR)$/.test(o.valueName ?? '')).map((o) => `${p.name} --${o.name}`));
    expect(unmarked).toEqual([]);
  });
  it('external programs and shell lines', () => {
    expect(refuse('/bin/echo -w $ARG1$', ['-5'])).toBeUndefined();
    expect(refuse('/bin/echo $ARG1$', ['-n'])).toMatch(/^argument 1 /);
    expect(refuse('$ARG1$ x', ['-x'])).toMatch(/^argument 1 /);
    expect(refuse('/bin/echo -w $ARG1$ $ARG2$', ['5', '-e'])).toMatch(/^argument 2 /);
    expect(refuse('/bin/echo $ARG1$ | cat', ['a b'])).toMatch(/white space/);
    expect(refuse('/bin/echo -w $ARG1$ | cat', ['-5'])).toBeUndefined();
    // the shell removes quotes and expands $ and globs after the nasty_metachars check
    expect(refuse('/bin/echo "$ARG1$" | cat', ['-n'])).toMatch(/^argument 1 may not start with a dash/);
    expect(refuse('/bin/echo $ARG1$ | cat', ['"-n"'])).toMatch(/^argument 1 may not start with a dash/);
    expect(refuse('/bin/echo $ARG1$ | cat', ['a$IFS-n'])).toMatch(/dollar sign/);
    expect(refuse('/bin/echo $ARG1$ | cat', ['*'])).toMatch(/glob/);
    expect(refuse('/bin/echo "-w" "$ARG1$" | cat', ['-5'])).toBeUndefined();
  });
  it('our checks run as a child (command_prefix sudo, env, a shell line) keep their restricted options', () => {
    const all = [testPlugin, ...plugins];
    const viaSudo = (line: string, args: string[]): string | undefined => refuseArguments(planCommand('x', line, all, '/usr/bin/sudo'), args);
    expect(viaSudo('check_ha_test --input-file=$ARG1$', ['/etc/shadow'])).toMatch(/^option --input-file names a file/);
    expect(viaSudo('check_ha_test --input-file $ARG1$', ['/etc/shadow'])).toMatch(/^option --input-file names a file/);
    expect(viaSudo('check_ha_haproxy -S $ARG1$', ['/run/x.sock'])).toMatch(/^option --socket names a file/);
    expect(viaSudo('check_ha_test -w $ARG1$', ['5'])).toBeUndefined();
    expect(refuse('/usr/bin/env check_ha_test --program $ARG1$', ['/usr/bin/id'])).toMatch(/^option --program names a program/);
    expect(refuse('check_ha_test --input-file "$ARG1$" 2>&1', ['/etc/shadow'])).toMatch(/^option --input-file names a file/);
    expect(refuse('check_ha_test -w $ARG1$ 2>&1', ['5'])).toBeUndefined();
  });
});

describe('answers cut to the packet', () => {
  const fit = (s: string, max: number, incomplete = false): string => fitAnswer(Buffer.from(s), max, incomplete).toString();
  it('never cuts inside a perfdata item: the text first, then whole items', () => {
    const out = 'OK - fine | a=1;2;3 b=22;5;6 c=333\nline 1\nline 2 | d=4';
    expect(fit(out, 1000)).toBe(out);
    expect(fit(out, 42)).toBe('OK - fine | a=1;2;3 b=22;5;6\nline 1\nline 2');
    expect(fit(out, 41)).toBe('OK - fine | a=1;2;3\nline 1\nline 2');
    expect(fit(out, 33)).toBe('OK - fine | a=1;2;3\nline 1\nline 2');
    expect(fit(out, 32)).toBe('OK - fine\nline 1\nline 2');
    expect(fit(out, 18)).toBe('OK - fine\nline 1');
    expect(fit("OK | 'a b'=1 'c''d e'=2", 15)).toBe("OK | 'a b'=1");
    // read already cut: the last item may be a fragment and is left out
    expect(fit('OK | a=1 b=2 c=3', 100, true)).toBe('OK | a=1 b=2');
    expect(fit('OK | a=1 b=2\nlong | c=3 d=4', 100, true)).toBe('OK | a=1 b=2 c=3\nlong');
    expect(fit('OK | a=1 b=2\nlong text cut her', 100, true)).toBe('OK | a=1 b=2\nlong text cut her');
    expect(fit('no perfdata at all, just text', 10)).toBe('no perfdat');
    // v3/v4: the same at 64 KiB
    const big = `OK - 3000 items | ${Array.from({ length: 3000 }, (_, i) => `drbd${i}/0_out_of_sync=${i}B;5242880;31457280;0`).join(' ')}`;
    const cut = fit(big, 65535);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(65535);
    expect(cut.split(' ').at(-1)).toMatch(/^drbd\d+\/0_out_of_sync=\d+B;5242880;31457280;0$/);
    expect(big.startsWith(cut)).toBe(true);
  });
});

describe('nrpe.cfg parsing', () => {
  it("reads Debian's stock /etc/nagios/nrpe.cfg as it is", async () => {
    const path = '/etc/nagios/nrpe.cfg';
    requireFile(path, 'nagios-nrpe-server');
    const cfg = await loadConfig(path);
    expect(cfg.serverPort).toBe(5666);
    expect(cfg.allowedHosts).toEqual(['127.0.0.1', '::1']);
    expect(cfg.commands.get('check_load')).toBe('/usr/lib/nagios/plugins/check_load -r -w .15,.10,.05 -c .30,.25,.20');
    expect(cfg.commandTimeoutS).toBe(60);
    expect(cfg.connectionTimeoutS).toBe(300);
    expect(cfg.handshakeTimeoutS).toBe(5);
    expect(cfg.maxConnectionsPerHost).toBe(64);
    expect(cfg.dontBlameNrpe).toBe(false);
    expect(cfg.nrpeUser).toBe('nagios');
    expect(configProblems(cfg, true)).toEqual([]);
    expect(cfg.warnings.filter((w) => /unknown key/.test(w))).toEqual([]);
  });

  it('follows include= and include_dir= (recursively, *.cfg only), last definition wins', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'd', 'sub'), { recursive: true });
    await writeFile(join(dir, 'main.cfg'), 'server_port=5777\ninclude=extra.cfg\ninclude_dir=d\ncommand[a]=/bin/a\n');
    await writeFile(join(dir, 'extra.cfg'), 'command[b]=/bin/b\ncommand[a]=/bin/a-old\n');
    await writeFile(join(dir, 'd', 'one.cfg'), 'command[c]=/bin/c\n');
    await writeFile(join(dir, 'd', 'sub', 'two.cfg'), 'command[d]=/bin/d\n');
    await writeFile(join(dir, 'd', 'ignored.txt'), 'command[e]=/bin/e\n');
    const cfg = await loadConfig(join(dir, 'main.cfg'));
    expect(Object.fromEntries(cfg.commands)).toEqual({ a: '/bin/a', b: '/bin/b', c: '/bin/c', d: '/bin/d' });
    expect(cfg.files).toHaveLength(4);
    expect(cfg.warnings.some((w) => /command\[a\] is defined again/.test(w))).toBe(true);
  });

  it('warns about unknown keys and fails on bad values with file:line', async () => {
    const cfg = await parseConfigText('frobnicate=1\nlog_facility=daemon\nssl_version=SSLv3+\n', '/x/agent.cfg');
    expect(cfg.warnings).toEqual(["/x/agent.cfg:1: unknown key 'frobnicate' ignored", '/x/agent.cfg:3: ssl_version=SSLv3+ is not offered (SSL 2/3 are broken); using TLSv1+']);
    await expect(parseConfigText('\n\nserver_port=70000\n', '/x/a.cfg')).rejects.toThrow('/x/a.cfg:3: server_port must be between 0 and 65535, not 70000');
    await expect(parseConfigText('dont_blame_nrpe=yes\n', '/x/a.cfg')).rejects.toThrow(ConfigError);
    await expect(parseConfigText('command[a b]=/bin/x\n', '/x/a.cfg')).rejects.toThrow(/invalid command name/);
    await expect(parseConfigText('include=/nonexistent/x.cfg\n', '/x/a.cfg')).rejects.toThrow(/no such file/);
  });

  it('reads the ssl_* keys and reports combinations that cannot work', async () => {
    const cfg = await parseConfigText('ssl_use_adh=0\nssl_client_certs=2\nssl_version=TLSv1.2+\nssl_cipher_list=HIGH\nssl_logging=0x0c\n');
    expect(cfg.ssl).toMatchObject({ useAdh: 0, clientCerts: 2, version: 'TLSv1.2+', cipherList: 'HIGH', logging: 12 });
    const p = configProblems(cfg, true);
    expect(p.join('\n')).toMatch(/ssl_use_adh=0 needs a certificate/);
    expect(p.join('\n')).toMatch(/needs ssl_cacert_file/);
    expect(configProblems(cfg, false)).toEqual([]);
  });
});

describe('allowed_hosts', () => {
  it('matches addresses, CIDR networks, names and IPv4-mapped clients', async () => {
    const resolver = async (name: string): Promise<string[]> => {
      if (name === 'monitor.example') return ['192.0.2.10', '2001:db8::10'];
      throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    };
    const a = await buildAllowedHosts(['127.0.0.1', '192.0.2.128/25', '2001:db8:1::/48', 'monitor.example', 'nosuch.example', '10.0.0.0/99'], resolver);
    expect(a.allows('127.0.0.1')).toBe(true);
    expect(a.allows('::ffff:127.0.0.1')).toBe(true);
    expect(a.allows('127.0.0.2')).toBe(false);
    expect(a.allows('192.0.2.200')).toBe(true);
    expect(a.allows('192.0.2.127')).toBe(false);
    expect(a.allows('192.0.2.10')).toBe(true);
    expect(a.allows('2001:db8::10')).toBe(true);
    expect(a.allows('2001:db8:1:ffff::1')).toBe(true);
    expect(a.allows('2001:db8:2::1')).toBe(false);
    expect(a.allows('garbage')).toBe(false);
    expect(a.notes.join('\n')).toMatch(/cannot resolve 'nosuch.example'/);
    expect(a.notes.join('\n')).toMatch(/'10.0.0.0\/99' is not a valid network/);
  });
  it('resolves real names (localhost) through the system resolver', async () => {
    const a = await buildAllowedHosts(['localhost']);
    expect(a.allows('127.0.0.1')).toBe(true);
  });
});

describe('shipped samples', () => {
  it('agent.cfg.sample loads without warnings or problems', async () => {
    const cfg = await loadConfig(new URL('../../agent/agent.cfg.sample', import.meta.url).pathname);
    expect(cfg.warnings).toEqual([]);
    expect(configProblems(cfg, true)).toEqual([]);
    expect(cfg.commands.get('check_drbd')).toBe('/usr/local/bin/check_ha_drbd -w 5 -c 30');
  });
  it('sudoers.sample passes visudo', async () => {
    const visudo = '/usr/sbin/visudo';
    requireFile(visudo, 'sudo');
    const r = await run(visudo, ['-c', '-f', new URL('../../agent/sudoers.sample', import.meta.url).pathname]);
    expect(r.stdout + r.stderr).toMatch(/parsed OK/);
    expect(r.code).toBe(0);
  });
});
