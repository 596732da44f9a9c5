/** Reading a file named in an option: the content, or one line saying what is wrong. */
import { readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PluginError } from '../../../nagios/plugin.ts';
import { readTextFile, replaceFile } from '../../../plugins/lib/files.ts';
import { removeDir, tempDir } from '../../support/tmp.ts';

const dir = tempDir('hawatch-lib-files-');
afterAll(() => removeDir(dir));

describe('readTextFile', () => {
  it('returns the text', async () => {
    writeFileSync(join(dir, 'a.txt'), 'Quorate: Yes\n');
    expect(await readTextFile(join(dir, 'a.txt'), 'quorum file')).toBe('Quorate: Yes\n');
  });
  it('names what and where, without a stack or errno code', async () => {
    const missing = join(dir, 'none');
    await expect(readTextFile(missing, 'quorum file')).rejects.toEqual(new PluginError(`cannot read quorum file ${missing}: no such file`));
    await expect(readTextFile(missing)).rejects.toThrow(`cannot read ${missing}: no such file`);
    await expect(readTextFile(dir, '--auth-file')).rejects.toThrow(/^cannot read --auth-file .*: it is a directory, not a regular file/);
  });
});

describe('replaceFile', () => {
  it('replaces the content whole, with the mode given, and leaves no temporary file', async () => {
    const path = join(dir, 'baseline');
    await replaceFile(path, 'one\n', 0o640);
    await replaceFile(path, 'two\n', 0o640);
    expect(readFileSync(path, 'utf8')).toBe('two\n');
    expect(statSync(path).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir).filter((f) => f.startsWith('baseline'))).toEqual(['baseline']);
  });
  it('replaces a symlink at the path itself instead of writing through it', async () => {
    const target = join(dir, 'target');
    writeFileSync(target, 'keep\n');
    const link = join(dir, 'state.json');
    symlinkSync(target, link);
    await replaceFile(link, '{}', 0o644);
    expect(readFileSync(target, 'utf8')).toBe('keep\n');
    expect(readFileSync(link, 'utf8')).toBe('{}');
  });
});
