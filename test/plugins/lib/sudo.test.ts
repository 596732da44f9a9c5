/** The --sudo command line: always an absolute program path, as sudoers rules need. */
import { describe, expect, it } from 'vitest';
import { sudoCommand, sudoProgramPath } from '../../../plugins/lib/sudo.ts';

describe('sudoCommand', () => {
  it('runs sudo -n with the program by absolute path', () => {
    expect(sudoCommand('/usr/sbin/ipvsadm', ['-Ln'])).toEqual({ file: 'sudo', args: ['-n', '/usr/sbin/ipvsadm', '-Ln'] });
  });
  it('takes a bare name from /usr/sbin, never from PATH', () => {
    expect(sudoCommand('iptables-save', [])).toEqual({ file: 'sudo', args: ['-n', '/usr/sbin/iptables-save'] });
    expect(sudoProgramPath('arping')).toBe('/usr/sbin/arping');
  });
  it('makes a relative path absolute', () => {
    expect(sudoProgramPath('bin/drbdsetup')).toBe(`${process.cwd()}/bin/drbdsetup`);
  });
});
