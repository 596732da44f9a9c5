import { spawnSync } from 'node:child_process';
import { accessSync, chmodSync, chownSync, constants, readFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  baseObjects,
  checkCommandWithArgs,
  ConfigRenderError,
  renderNagiosMainConfig,
  renderNagiosObjects,
  renderNrpeConfig,
  renderObject,
} from '../../nagios/config.ts';

const NAGIOS = '/usr/sbin/nagios4';
const dir = mkdtempSync(join(tmpdir(), 'hawatch-nagcfg-'));
// nagios4 reads its files as the nagios user.
chmodSync(dir, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function nagiosUser(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('nagios:'));
  if (!line) throw new Error('no nagios user: install the Debian package nagios4-core (it creates the user)');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

function nagiosVerify(objects: string): { status: number | null; out: string } {
  try {
    accessSync(NAGIOS, constants.X_OK);
  } catch {
    throw new Error(`${NAGIOS} is missing: install the Debian package nagios4-core`);
  }
  const sub = mkdtempSync(join(dir, 'v-'));
  chmodSync(sub, 0o755);
  mkdirSync(join(sub, 'checkresults'));
  // Nagios drops to nagios_user and then writes temp files and check results there.
  const { uid, gid } = nagiosUser();
  chownSync(sub, uid, gid);
  chownSync(join(sub, 'checkresults'), uid, gid);
  writeFileSync(join(sub, 'objects.cfg'), objects);
  writeFileSync(join(sub, 'resource.cfg'), '$USER1$=/usr/lib/nagios/plugins\n');
  writeFileSync(join(sub, 'nagios.cfg'), renderNagiosMainConfig({ varDir: sub, cfgFiles: [join(sub, 'objects.cfg')], resourceFile: join(sub, 'resource.cfg') }));
  const r = spawnSync(NAGIOS, ['-v', join(sub, 'nagios.cfg')], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: r.stdout + r.stderr };
}

describe('rendering Nagios object configuration', () => {
  it('renders aligned definitions and escapes ; (a comment in Nagios object files)', () => {
    expect(renderObject({ type: 'command', directives: { command_name: 'x', command_line: '/bin/sh -c "a; b"', skipped: undefined } })).toBe(
      'define command {\n    command_name  x\n    command_line  /bin/sh -c "a\\; b"\n}\n',
    );
    expect(checkCommandWithArgs('check_nrpe', ['check_load', '-w 5'])).toBe('check_nrpe!check_load!-w 5');
  });

  it('refuses what would break the file or that Nagios refuses', () => {
    expect(() => renderNagiosObjects({ hosts: [{ name: 'bad!name', address: '192.0.2.1' }] })).toThrow(/contains '!'/);
    expect(() => renderNagiosObjects({ hosts: [{ name: 'h', address: '192.0.2.1\nregister 0' }] })).toThrow(ConfigRenderError);
    expect(() => renderNagiosObjects({ hosts: [{ name: 'h', address: 'a' }, { name: 'h', address: 'b' }] })).toThrow(/defined twice/);
    expect(() => renderNagiosObjects({ services: [{ hostName: 'h', description: 'x', checkCommand: 'c', args: ['a!b'] }] })).toThrow(/argument separator/);
    expect(() => renderNagiosObjects({ services: [{ hostName: 'h', description: "it's", checkCommand: 'c' }] })).toThrow(/'''/);
    expect(() => renderObject({ type: 'host', directives: { 'bad key': 'x' } })).toThrow(/invalid directive name/);
  });

  it('nagios4 -v accepts a generated configuration (hosts, NRPE and local services, custom variables)', () => {
    const objects = renderNagiosObjects({
      objects: baseObjects(),
      commands: [
        { name: 'check_nrpe', line: '$USER1$/check_nrpe -H $HOSTADDRESS$ -p $_HOSTNRPE_PORT$ -c $ARG1$' },
        { name: 'check_dummy', line: '$USER1$/check_dummy $ARG1$ "$ARG2$"' },
        { name: 'check-host-alive', line: '$USER1$/check_dummy 0 up' },
      ],
      hosts: [
        { name: 'db1', address: '192.0.2.11', use: 'hawatch-host', checkCommand: 'check-host-alive', custom: { nrpe_port: '5666' } },
        { name: 'db2', address: '192.0.2.12', use: 'hawatch-host', checkCommand: 'check-host-alive', parents: ['db1'], custom: { nrpe_port: '5667' } },
      ],
      services: [
        { hostName: 'db1', description: 'DRBD r0', use: 'hawatch-service', checkCommand: 'check_nrpe', args: ['check_drbd'] },
        { hostName: 'db2', description: 'DRBD r0', use: 'hawatch-service', checkCommand: 'check_nrpe', args: ['check_drbd'], checkInterval: 2 },
        { hostName: 'db1', description: 'Dummy check', use: 'hawatch-service', checkCommand: 'check_dummy', args: ['0', 'a; b'] },
      ],
    });
    const r = nagiosVerify(objects);
    expect(r.out).toMatch(/Total Warnings: 0/);
    expect(r.out).toMatch(/Total Errors:\s+0/);
    expect(r.out).toMatch(/Checked 3 services\./);
    expect(r.out).toMatch(/Checked 2 hosts\./);
    expect(r.status).toBe(0);
  }, 60_000);

  it('nagios4 -v rejects a service on an undefined host: the test can fail', () => {
    const r = nagiosVerify(renderNagiosObjects({ objects: baseObjects(), commands: [{ name: 'c', line: '/bin/true' }], services: [{ hostName: 'ghost', description: 's', use: 'hawatch-service', checkCommand: 'c' }] }));
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/ghost/);
  }, 60_000);
});

describe('rendering nrpe.cfg', () => {
  it('renders keys and command[] lines and refuses injection', () => {
    const text = renderNrpeConfig({
      serverPort: 5666,
      allowedHosts: ['127.0.0.1', '192.0.2.0/24'],
      dontBlameNrpe: false,
      ssl: { useAdh: 0, clientCerts: 2, certFile: '/etc/x.crt' },
      commands: { check_load: '/usr/lib/nagios/plugins/check_load -w 5,4,3 -c 10,8,6' },
    });
    expect(text.split('\n')).toEqual([
      '# Generated by hawatch: edits will be overwritten.',
      'server_port=5666',
      'allowed_hosts=127.0.0.1,192.0.2.0/24',
      'dont_blame_nrpe=0',
      'ssl_use_adh=0',
      'ssl_cert_file=/etc/x.crt',
      'ssl_client_certs=2',
      'command[check_load]=/usr/lib/nagios/plugins/check_load -w 5,4,3 -c 10,8,6',
      '',
    ]);
    expect(() => renderNrpeConfig({ commands: { 'a]b': '/bin/true' } })).toThrow(/command name/);
    expect(() => renderNrpeConfig({ commands: { a: '/bin/true\ncommand[b]=/bin/sh' } })).toThrow(/line break/);
    expect(() => renderNrpeConfig({ allowedHosts: ['a b'], commands: {} })).toThrow(/blank or a comma/);
  });
});
