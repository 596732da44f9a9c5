/**
 * Bearer-token authentication for everything that changes state. The token comes from an
 * environment variable or a file (never the inventory text); comparison is constant-time
 * over SHA-256 digests so neither content nor length leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from './errors.ts';

export function loadApiToken(envName: string, file: string | null, env: NodeJS.ProcessEnv = process.env): string | null {
  const fromEnv = env[envName];
  if (fromEnv !== undefined && fromEnv.trim() !== '') return fromEnv.trim();
  if (file !== null) {
    const t = readFileSync(file, 'utf8').trim();
    if (t === '') throw new Error(`API token file ${file} is empty`);
    return t;
  }
  return null;
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

export function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

export function requireToken(token: () => string | null) {
  return async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const expected = token();
    if (expected === null) throw new ApiError('UNAUTHORIZED', 'this server has no API token configured, so state changes are disabled: set HAWATCH_API_TOKEN (or server.api_token_file) and restart');
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m || !tokenMatches(m[1] as string, expected)) throw new ApiError('UNAUTHORIZED', 'missing or wrong bearer token (Authorization: Bearer <token>)');
  };
}
