/**
 * Data-driven cases: testcases/<case>/args (one argument per line; `@fixtures/NAME` is a file of
 * plugins/drbd/fixtures), optional `input` (given as --input-file), and `expected`: `exit N`
 * then the exact plugin output. UPDATE_TESTCASES=1 rewrites `expected` from the current code;
 * review the diff by eye before committing it.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPlugin } from '../../../nagios/plugin.ts';
import drbd from '../../../plugins/drbd/index.ts';
import { FIXTURES, ROOT } from './helpers.ts';

const DIR = join(ROOT, 'test', 'plugins', 'drbd', 'testcases');
const update = process.env.UPDATE_TESTCASES === '1';

function argsOf(caseDir: string): string[] {
  const args = readFileSync(join(caseDir, 'args'), 'utf8').split('\n').filter((l) => l !== '').map((a) => a.replace(/^@fixtures\//, `${FIXTURES}/`));
  if (existsSync(join(caseDir, 'input'))) args.push('--input-file', join(caseDir, 'input'));
  return args;
}

describe('data-driven cases', () => {
  const cases = readdirSync(DIR, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  it('there are cases', () => {
    expect(cases.length).toBeGreaterThan(40);
  });
  it.each(cases)('%s', async (name) => {
    const caseDir = join(DIR, name);
    const { exitCode, text } = await runPlugin(drbd, argsOf(caseDir), { env: {} });
    // Paths differ between checkouts; the expected output names them relative to the repo.
    const actual = `exit ${exitCode}\n${text.split(ROOT + '/').join('')}`;
    const file = join(caseDir, 'expected');
    if (update || !existsSync(file)) {
      if (!update) throw new Error(`${file} is missing: run with UPDATE_TESTCASES=1 and review it`);
      writeFileSync(file, actual);
    }
    expect(actual).toBe(readFileSync(file, 'utf8'));
  });
});
