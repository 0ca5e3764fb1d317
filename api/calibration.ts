import { z } from 'zod';
import type { CalibrationService } from '../calibration/service.js';
import { certificateInputSchema, certificateViewSchema, sensorCalibrationStatusSchema } from '../calibration/schema.js';
import { ANYONE, REVIEWERS } from './auth.js';
import { idParams, listOf } from './params.js';
import type { ApiPlugin } from './zod.js';

const listAnswer = listOf('sensors', sensorCalibrationStatusSchema);
const oneAnswer = z.object({ sensor: sensorCalibrationStatusSchema, certificates: z.array(certificateViewSchema) });
const addAnswer = z.object({ sensor: sensorCalibrationStatusSchema, certificate: certificateViewSchema });
export type CalibrationList = z.infer<typeof listAnswer>;
export type CalibrationAnswer = z.infer<typeof oneAnswer>;
export type CertificateAdded = z.infer<typeof addAnswer>;

/**
 * Sensors' calibration (GSP: accuracy and calibration of the monitoring system):
 * `GET /api/v1/calibration` (every sensor's state), `GET /api/v1/calibration/:id` (one sensor's
 * certificates), `POST /api/v1/calibration/:id/certificates` (qa, admin; an e-signature; audited).
 */
export const calibrationRoutes: ApiPlugin<{ calibration?: CalibrationService }> = async (app, deps) => {
  const calibration = deps.calibration;
  if (!calibration) return;
  app.get('/api/v1/calibration', { config: { roles: ANYONE }, schema: { response: { 200: listAnswer } } }, async () => {
    const sensors = calibration.list();
    return { count: sensors.length, sensors };
  });
  app.get('/api/v1/calibration/:id', { config: { roles: ANYONE }, schema: { params: idParams, response: { 200: oneAnswer } } }, async (request) =>
    calibration.get(request.params.id),
  );
  app.post(
    '/api/v1/calibration/:id/certificates',
    { config: { roles: REVIEWERS }, schema: { params: idParams, body: certificateInputSchema, response: { 201: addAnswer } } },
    async (request, reply) => reply.code(201).send(await calibration.add(request.params.id, request.body)),
  );
};
