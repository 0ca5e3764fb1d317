import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { InfluxError } from '../storage/influx.js';
import { ShipmentError } from '../shipments/service.js';
import { SignatureError } from '../audit/e-signature.js';
import { ReportError } from '../reports/shipment-report.js';
import { LifecycleError } from '../alerts/book.js';
import { ShelveError } from '../alerts/service.js';
import { AlarmTestError } from '../alerts/alarm-test.js';
import { CalibrationError } from '../calibration/service.js';
import { StabilityError } from '../stability/service.js';
import { ReportFailedError, ReportsBusyError } from '../reports/pool.js';
import { ReportTooLargeError } from '../reports/readings-source.js';
import { SignedVersionError } from '../reports/signed-version.js';

/** An answer other than success: its status, a code for programs and a message for people. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
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

/** The domain's refusals carry their own status (and some their own code); otherwise the code says which kind of refusal it is. */
const DOMAIN_ERRORS = [
  ShipmentError,
  ReportError,
  SignatureError,
  LifecycleError,
  ShelveError,
  AlarmTestError,
  CalibrationError,
  StabilityError,
  SignedVersionError,
];
const DOMAIN_CODES: Record<number, string> = { 400: 'bad_request', 401: 'signature_refused', 404: 'not_found', 409: 'conflict' };

function toHttpError(err: Error): HttpError | undefined {
  if (err instanceof HttpError) return err;
  // The report workers' refusals (reports/pool.ts): busy, too many readings, too slow or failed.
  if (err instanceof ReportsBusyError) return new HttpError(429, 'reports_busy', err.message, { 'Retry-After': String(err.retryAfterSeconds) });
  if (err instanceof ReportTooLargeError) return new HttpError(422, 'report_too_large', err.message);
  if (err instanceof ReportFailedError) return new HttpError(503, err.code, err.message);
  if (!DOMAIN_ERRORS.some((type) => err instanceof type)) return undefined;
  const { status, code } = err as Error & { status: number; code?: string };
  return new HttpError(status, code ?? (err instanceof ShelveError ? 'invalid_request' : (DOMAIN_CODES[status] ?? 'forbidden')), err.message);
}

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
  const known = toHttpError(err);
  if (known)
    return reply
      .code(known.status)
      .headers(known.headers)
      .send({ error: known.code, message: known.message, ...known.details });
  const status = err.statusCode ?? 500;
  if (status >= 500) {
    request.log.error({ err, requestId: request.id }, 'request failed');
    return reply.code(status).send({ error: 'internal_error', message: `internal error (request ${request.id}; details in the service log)` });
  }
  // 4xx from fastify itself (unparsable body, too large, wrong content type): about the request, safe to name.
  return reply.code(status).send({ error: 'bad_request', message: err.message });
}
