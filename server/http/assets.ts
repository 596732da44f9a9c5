/**
 * Static files the server sends to browsers from npm packages (uPlot for the service view).
 * Found beside the bundle (dist/lib/node_modules, /usr/lib/hawatch/lib/node_modules: the
 * build copies them there) or, from a checkout, in node_modules. Read once, kept in memory.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cache = new Map<string, string>();

export class AssetMissingError extends Error {
  override name = 'AssetMissingError';
}

/** The text of `pkg/file`, e.g. asset('uplot', 'dist/uPlot.iife.min.js'). */
export function asset(pkg: string, file: string): string {
  const id = `${pkg}/${file}`;
  const hit = cache.get(id);
  if (hit !== undefined) return hit;
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '..', 'lib', 'node_modules', pkg, file)];
  try {
    candidates.push(createRequire(import.meta.url).resolve(`${pkg}/${file}`));
  } catch {
    /* not in a checkout's node_modules either */
  }
  for (const c of candidates) {
    try {
      const text = readFileSync(c, 'utf8');
      cache.set(id, text);
      return text;
    } catch {
      /* next */
    }
  }
  throw new AssetMissingError(`${id} is missing beside the server (looked in ${candidates.join(' and ')}): reinstall hawatch-server or run npm ci and npm run build`);
}
