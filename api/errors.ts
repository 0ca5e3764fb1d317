import type { FastifyReply } from 'fastify';
import type { z } from 'zod';

/** 400 with every problem named by its parameter, e.g. "query.from: Invalid ISO datetime". */
export function sendValidationError(reply: FastifyReply, error: z.ZodError, where: 'query' | 'body' | 'params') {
  const problems = error.issues.map((issue) => `${[where, ...issue.path.map(String)].join('.')}: ${issue.message}`);
  return reply.code(400).send({ error: 'bad_request', message: problems.join('; '), problems });
}
