/** Where things are in the checkout: the repository root, built executables, plugin fixtures. */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..', '..');

/** plugins/<plugin>/fixtures: captured samples of the plugin's data sources. */
export function fixturesDir(plugin: string): string {
  return join(ROOT, 'plugins', plugin, 'fixtures');
}

export function fixturePath(plugin: string, name: string): string {
  return join(fixturesDir(plugin), name);
}

export function readFixture(plugin: string, name: string): string {
  return readFileSync(fixturePath(plugin, name), 'utf8');
}
