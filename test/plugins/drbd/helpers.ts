import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const FIXTURES = join(ROOT, 'plugins', 'drbd', 'fixtures');
export const BIN = join(ROOT, 'dist', 'bin', 'check_ha_drbd.cjs');

export function fixturePath(name: string): string {
  return join(FIXTURES, name);
}

export function fixture(name: string): string {
  return readFileSync(fixturePath(name), 'utf8');
}
