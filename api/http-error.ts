import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { InfluxError } from '../storage/influx.js';
import { Refusal } from '../core/refusal.js';
import { ReportsBusyError } from '../reports/pool.js';

/** A refusal of the HTTP layer itself (auth, sign-in, streams, bad input): with its code always, and headers or details where it has them. */
export class HttpError extends Refusal {
  declare readonly code: string;
  constructor(
    status: number,
    code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly details: Record<string, unknown> = {},
  ) {
    super(message, status, code);
  }
}

export const notFound = (message: string) => new HttpError(404, 'not_found', message);
/** What was found, or 404 naming what was not. */
export function foundOr404<T>(found: T | undefined, message: string): T {
  if (found === undefined) throw notFound(message);
  return found;
}

/** 400 with every problem named by where it is, e.g. "query.from: must be epoch milliseconds…". */
export class ValidationError extends HttpError {
  constructor(problems: string[]) {
    super(400, 'bad_request', problems.join('; '), {}, { problems });
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
  // Every refusal, the HTTP layer's own and each domain's (core/refusal.ts), e.g. the report workers' 429 with Retry-After.
  if (err instanceof Refusal) {
    const http = err instanceof HttpError ? err : undefined;
    const retry = err instanceof ReportsBusyError ? { 'Retry-After': String(err.retryAfterSeconds) } : {};
    return reply
      .code(err.status)
      .headers(http?.headers ?? retry)
      .send({ error: err.code ?? CODES[err.status] ?? 'forbidden', message: err.message, ...http?.details });
  }
  const status = err.statusCode ?? 500;
  if (status >= 500) {
    request.log.error({ err, requestId: request.id }, 'request failed');
    return reply.code(status).send({ error: 'internal_error', message: `internal error (request ${request.id}; details in the service log)` });
  }
  // 4xx from fastify itself (unparsable body, too large, wrong content type): about the request, safe to name.
  return reply.code(status).send({ error: 'bad_request', message: err.message });
}
