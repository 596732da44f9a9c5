/** Reading a file named in an option: the content, or one line saying what is wrong. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PluginError } from '../../../nagios/plugin.ts';
import { readTextFile } from '../../../plugins/lib/files.ts';
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
    await expect(readTextFile(missing, 'quorum file')).rejects.toEqual(new PluginError(`cannot read quorum file '${missing}': no such file`));
    await expect(readTextFile(missing)).rejects.toThrow(`cannot read '${missing}': no such file`);
    await expect(readTextFile(dir, '--auth-file')).rejects.toThrow(/^cannot read --auth-file '.*': EISDIR/);
  });
});
