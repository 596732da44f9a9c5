/** The server address syntax shared by the database and proxy checks. */
import { describe, expect, it } from 'vitest';
import { parsePort, splitAddress } from '../../../plugins/lib/address.ts';

describe('splitAddress', () => {
  it.each([
    ['db1', { host: 'db1' }],
    ['db1:3307', { host: 'db1', port: '3307' }],
    ['[fd00::2]:3308', { host: 'fd00::2', port: '3308' }],
    ['[fd00::2]', { host: 'fd00::2', port: undefined }],
    ['fd00::2', { host: 'fd00::2' }],
    ['/run/mysqld/mysqld.sock', { path: '/run/mysqld/mysqld.sock' }],
    [':3306', { host: '', port: '3306' }],
    ['db1:', { host: 'db1', port: '' }],
  ])('%s', (text, want) => {
    expect(splitAddress(text)).toEqual(want);
  });
});

describe('parsePort', () => {
  it('takes 1..65535 in decimal digits only', () => {
    expect([parsePort('1'), parsePort('65535'), parsePort('3306')]).toEqual([1, 65535, 3306]);
    expect([parsePort('0'), parsePort('65536'), parsePort(''), parsePort('80x'), parsePort('+80'), parsePort('8e1')]).toEqual([undefined, undefined, undefined, undefined, undefined, undefined]);
  });
});
