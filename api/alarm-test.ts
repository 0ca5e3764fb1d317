import type { z } from 'zod';
import { alarmTestResultSchema } from '../alerts/alarm-test.js';
import { REVIEWERS } from './auth.js';
import { idParams } from './params.js';
import type { ApiPlugin } from './zod.js';

export type AlarmTestAnswer = z.infer<typeof alarmTestResultSchema>;

/** `POST /api/v1/sites/:id/alarm-test` (qa, admin): a test alarm through every channel and tier, audited; an unknown site is 404. */
export const alarmTestRoutes: ApiPlugin = async (app, { alerts }) => {
  app.post(
    '/api/v1/sites/:id/alarm-test',
    { schema: { params: idParams, response: { 200: alarmTestResultSchema } }, config: { roles: REVIEWERS } },
    async (request) => alerts.testAlarm(request.params.id, request.caller.tokenId),
  );
};
