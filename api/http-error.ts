import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { InfluxError } from '../storage/influx.js';
import { Refusal } from '../core/refusal.js';

export const notFound = (message: string) => new Refusal(message, 404, 'not_found');
export const unauthorized = (message: string, headers?: Record<string, string>) => new Refusal(message, 401, 'unauthorized', headers);
/** What was found, or 404 naming what was not. */
export function foundOr404<T>(found: T | undefined, message: string): T {
  if (found === undefined) throw notFound(message);
  return found;
}

/** 400 with every problem named by where it is, e.g. "query.from: must be epoch milliseconds…". */
export class ValidationError extends Refusal<400> {
  constructor(problems: string[]) {
    super(problems.join('; '), 400, 'bad_request', {}, { problems });
  }
}

/** A domain's refusal without a code of its own is named by its status. */
const CODES: Record<number, string> = { 400: 'bad_request', 401: 'signature_refused', 404: 'not_found', 409: 'conflict' };

/** What a client is told of an InfluxDB failure: its kind, never InfluxDB's text or address. */
const INFLUX_SAYS: Partial<Record<InfluxError['kind'], string>> = {
  unreachable: 'the database is unreachable',
  timeout: 'the database did not answer in time',
};

/**
 * Every error of every route is answered here, and only here. What went wrong inside (an
 * InfluxQL error with the statement's text, a stack's message) goes to the log with the request
 * id, never to the client (issue 12, item 16): the answer names the request id to quote.
 */
export function errorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (err instanceof InfluxError) {
    request.log.error({ err: err.message, kind: err.kind, requestId: request.id }, 'InfluxDB query failed');
    return reply.code(503).send({
      error: 'influxdb_unavailable',
      message: `${INFLUX_SAYS[err.kind] ?? 'the database could not answer'}; try again later (request ${request.id}; details in the service log)`,
    });
  }
  // Every refusal, the HTTP layer's own and each domain's (core/refusal.ts), with its headers (a 429's Retry-After).
  if (err instanceof Refusal)
    return reply
      .code(err.status)
      .headers(err.headers)
      .send({ error: err.code ?? CODES[err.status] ?? 'forbidden', message: err.message, ...err.details });
  const status = err.statusCode ?? 500;
  if (status >= 500) {
    request.log.error({ err, requestId: request.id }, 'request failed');
    return reply.code(status).send({ error: 'internal_error', message: `internal error (request ${request.id}; details in the service log)` });
  }
  // 4xx from fastify itself (unparsable body, too large, wrong content type): about the request, safe to name.
  return reply.code(status).send({ error: 'bad_request', message: err.message });
}
