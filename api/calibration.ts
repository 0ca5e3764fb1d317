import { z } from 'zod';
import { certificateInputSchema, certificateViewSchema, sensorCalibrationStatusSchema } from '../calibration/schema.js';
import { ANYONE, type ApiPlugin, idParams, listed, listOf, REVIEWERS, route } from './route.js';

const listAnswer = listOf('sensors', sensorCalibrationStatusSchema);
const oneAnswer = z.object({ sensor: sensorCalibrationStatusSchema, certificates: z.array(certificateViewSchema) });
const addAnswer = z.object({ sensor: sensorCalibrationStatusSchema, certificate: certificateViewSchema });
export type CalibrationList = z.infer<typeof listAnswer>;
export type CalibrationAnswer = z.infer<typeof oneAnswer>;
export type CertificateAdded = z.infer<typeof addAnswer>;

/** Sensors' calibration (GSP: accuracy and calibration of the monitoring system); a certificate is e-signed and audited. */
export const calibrationRoutes: ApiPlugin = async (app, { calibration }) => {
  if (!calibration) return;
  app.get('/api/v1/calibration', route(ANYONE, { response: { 200: listAnswer } }), async () => listed('sensors', calibration.list()));
  app.get('/api/v1/calibration/:id', route(ANYONE, { params: idParams, response: { 200: oneAnswer } }), async (request) => calibration.get(request.params.id));
  app.post(
    '/api/v1/calibration/:id/certificates',
    route(REVIEWERS, { params: idParams, body: certificateInputSchema, response: { 201: addAnswer } }),
    async (request, reply) => reply.code(201).send(await calibration.add(request.params.id, request.body)),
  );
};
