import type {
  FastifyPluginAsync,
  FastifyPluginOptions,
  FastifySchemaCompiler,
  FastifySerializerCompiler,
  FastifyTypeProvider,
  RawServerDefault,
} from 'fastify';
import type { z } from 'zod';
import { problems } from '../core/refusal.js';
import { ValidationError } from './http-error.js';
import type { ApiDeps } from './server.js';

/** zod as fastify's schema language: requests arrive parsed and typed, and the compiler checks what a handler returns against its response schema. */
export interface ZodTypeProvider extends FastifyTypeProvider {
  validator: this['schema'] extends z.ZodType ? z.output<this['schema']> : unknown;
  serializer: this['schema'] extends z.ZodType ? z.input<this['schema']> : unknown;
}

/** One resource's routes: a fastify plugin given the API's dependencies (it takes what it uses of them). */
export type ApiPlugin<Deps extends FastifyPluginOptions = ApiDeps> = FastifyPluginAsync<Deps, RawServerDefault, ZodTypeProvider>;

const PARTS: Record<string, string> = { querystring: 'query', body: 'body', params: 'params', headers: 'headers' };

/** Parses what a request carries; a failure is a 400 naming every problem. */
export function parse<S extends z.ZodType>(schema: S, data: unknown, where: string): z.output<S> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  throw new ValidationError(problems(result.error, where));
}

/** A route's querystring, params and body, parsed by their schemas. */
export const validatorCompiler: FastifySchemaCompiler<z.ZodType> =
  ({ schema, httpPart }) =>
  (data) => {
    try {
      // A request without a body is checked as an empty one, so each missing field is named.
      return { value: parse(schema, httpPart === 'body' ? (data ?? {}) : data, PARTS[httpPart ?? ''] ?? httpPart ?? 'request') };
    } catch (error) {
      return { error: error as Error };
    }
  };

/**
 * Replies are held to their response schemas by the compiler (the type provider), and sent as
 * the handler built them: a schema drifting from the data cannot turn an answer into a 500.
 */
export const serializerCompiler: FastifySerializerCompiler<z.ZodType> = () => (data) => JSON.stringify(data);
