/**
 * The one error table: every error the API answers with, its HTTP status and code. Domain
 * modules throw their own error classes; this maps them, so no route formats errors itself.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { plainText } from '../core/text.ts';
import { AcknowledgeError } from '../state/machine.ts';
import { ConflictError, NotFoundError } from '../core/monitor.ts';
import { InventoryError, InventoryUnreadableError } from '../inventory/load.ts';

export const ErrorTable = {
  BAD_REQUEST: { status: 400, title: 'The request does not match the API schema' },
  UNAUTHORIZED: { status: 401, title: 'A valid bearer token is needed' },
  FORBIDDEN: { status: 403, title: 'The token does not allow this' },
  NOT_FOUND: { status: 404, title: 'No such object' },
  CONFLICT: { status: 409, title: 'The request conflicts with the current state' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'The request body is larger than the server accepts' },
  INVENTORY_INVALID: { status: 422, title: 'The inventory has problems; nothing was changed' },
  TOO_MANY_REQUESTS: { status: 429, title: 'Too many concurrent requests of this kind from this client' },
  UNAVAILABLE: { status: 503, title: 'Not available now or in this configuration' },
  INTERNAL: { status: 500, title: 'Internal error' },
} as const;
export type ErrorCode = keyof typeof ErrorTable;

export class ApiError extends Error {
  override name = 'ApiError';
  readonly code: ErrorCode;
  readonly details: readonly string[] | undefined;
  constructor(code: ErrorCode, message: string, details?: readonly string[]) {
    super(message);
    this.code = code;
    this.details = details;
  }
}

export function classify(err: unknown): { code: ErrorCode; message: string; details?: readonly string[] | undefined } {
  if (err instanceof ApiError) return { code: err.code, message: err.message, details: err.details };
  if (err instanceof NotFoundError) return { code: 'NOT_FOUND', message: err.message };
  if (err instanceof ConflictError || err instanceof AcknowledgeError) return { code: 'CONFLICT', message: err.message };
  if (err instanceof InventoryUnreadableError) return { code: 'INVENTORY_INVALID', message: err.message, details: [err.message] };
  if (err instanceof InventoryError) return { code: 'INVENTORY_INVALID', message: err.message.split('\n')[0] ?? err.message, details: err.problems };
  const fe = err as FastifyError;
  if (fe.validation) return { code: 'BAD_REQUEST', message: fe.message };
  if (fe.statusCode === 413) return { code: 'PAYLOAD_TOO_LARGE', message: 'the request body is larger than 64 KiB: commands are small JSON objects' };
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { code: fe.statusCode === 404 ? 'NOT_FOUND' : fe.statusCode === 401 ? 'UNAUTHORIZED' : 'BAD_REQUEST', message: fe.message };
  }
  return { code: 'INTERNAL', message: 'internal error; see the server log' };
}

export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err, req, reply) => {
    const c = classify(err);
    const entry = ErrorTable[c.code];
    if (c.code === 'INTERNAL') req.log.error({ err }, 'request failed');
    // Shown on the status page and passed on to other tools: plain text (see core/text.ts).
    void reply.status(entry.status).send({ error: c.code, message: plainText(c.message), ...(c.details ? { details: c.details } : {}) });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ error: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` });
  });
}
