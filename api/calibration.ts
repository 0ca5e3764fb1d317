import { z } from 'zod';
import { CalibrationError, type CalibrationService } from '../calibration/service.js';
import { calibrationStates, certificateInputSchema, certificateSchema } from '../calibration/schema.js';
import { ANYONE, REVIEWERS } from './auth.js';
import { HttpError } from './http-error.js';
import { idParams } from './readings.js';
import type { ApiPlugin } from './zod.js';

const accuracySchema = z.object({ temperature: z.number(), humidity: z.number().optional() });

/** One sensor's calibration now: identity, state, the certificate in force, and what is flagged. */
export const sensorCalibrationStatusSchema = z.object({
  deviceId: z.string(),
  name: z.string().nullable(),
  locationId: z.string(),
  model: z.string().nullable(),
  serial: z.string().nullable(),
  accuracy: accuracySchema.nullable(),
  state: z.enum(calibrationStates),
  certificate: z.object({ number: z.string(), laboratory: z.string(), validFrom: z.number(), validTo: z.number() }).nullable(),
  problems: z.array(z.string()),
  certificates: z.number(),
});
export const certificateViewSchema = certificateSchema.extend({
  validFrom: z.number(),
  validTo: z.number(),
  supersededBy: z.string().nullable(),
  problems: z.array(z.string()),
});
const listAnswer = z.object({ count: z.number(), sensors: z.array(sensorCalibrationStatusSchema) });
const oneAnswer = z.object({ sensor: sensorCalibrationStatusSchema, certificates: z.array(certificateViewSchema) });
const addAnswer = z.object({ sensor: sensorCalibrationStatusSchema, certificate: certificateViewSchema });
export type CalibrationList = z.infer<typeof listAnswer>;
export type CalibrationAnswer = z.infer<typeof oneAnswer>;
export type CertificateAdded = z.infer<typeof addAnswer>;

const refusal = (err: unknown): never => {
  if (err instanceof CalibrationError)
    throw new HttpError(err.status, err.status === 404 ? 'not_found' : err.status === 409 ? 'conflict' : 'bad_request', err.message);
  throw err;
};

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
  app.get('/api/v1/calibration/:id', { config: { roles: ANYONE }, schema: { params: idParams, response: { 200: oneAnswer } } }, async (request) => {
    try {
      return calibration.get(request.params.id);
    } catch (err) {
      return refusal(err);
    }
  });
  app.post(
    '/api/v1/calibration/:id/certificates',
    { config: { roles: REVIEWERS }, schema: { params: idParams, body: certificateInputSchema, response: { 201: addAnswer } } },
    async (request, reply) => {
      try {
        return reply.code(201).send(await calibration.add(request.params.id, request.body));
      } catch (err) {
        return refusal(err);
      }
    },
  );
};
