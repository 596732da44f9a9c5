/** Where things are in the checkout: the repository root, built executables, plugin fixtures. */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..', '..');

/** A captured sample of a plugin's data source: plugins/<plugin>/fixtures/<name>. */
export function fixturePath(plugin: string, name: string): string {
  return join(ROOT, 'plugins', plugin, 'fixtures', name);
}

export function readFixture(plugin: string, name: string): string {
  return readFileSync(fixturePath(plugin, name), 'utf8');
}
