import { z } from 'zod';
import type { AlertService } from '../alerts/service.js';
import { AlarmTestError } from '../alerts/alarm-test.js';
import { notFound } from './http-error.js';
import { REVIEWERS } from './auth.js';
import type { ApiPlugin } from './zod.js';

export const alarmTestAnswerSchema = z.object({
  siteId: z.string(),
  at: z.number(),
  attempts: z.array(z.object({ tier: z.number(), channel: z.enum(['email', 'webhook', 'sms']), recipient: z.string(), ok: z.boolean(), outcome: z.string() })),
});
export type AlarmTestAnswer = z.infer<typeof alarmTestAnswerSchema>;

/** `POST /api/v1/sites/:id/alarm-test` (qa, admin): a test alarm through every channel and tier, audited. */
export const alarmTestRoutes: ApiPlugin<{ alerts: AlertService }> = async (app, deps) => {
  app.post(
    '/api/v1/sites/:id/alarm-test',
    { schema: { params: z.object({ id: z.string() }), response: { 200: alarmTestAnswerSchema } }, config: { roles: REVIEWERS } },
    async (request) => {
      try {
        return await deps.alerts.testAlarm(request.params.id, request.caller.tokenId);
      } catch (err) {
        throw err instanceof AlarmTestError ? notFound(err.message) : err;
      }
    },
  );
};
