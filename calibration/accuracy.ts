import type { CalibrationPoint, Certificate, SensorCalibration } from './schema.js';

/**
 * The GSP annex's accuracy for automatic temperature/humidity monitoring: ±0.5 °C within
 * 0–40 °C, ±1.0 °C within −25–0 °C, ±5 %RH. Outside −25–40 °C the annex sets no figure.
 */
export const GSP_ACCURACY = {
  temperature: [
    { from: 0, to: 40, limit: 0.5 },
    { from: -25, to: 0, limit: 1.0 },
  ],
  humidity: 5,
} as const;

/** The GSP limit at one temperature (°C), or undefined outside −25–40 °C. At 0 °C the stricter 0.5 applies. */
export function gspTemperatureLimit(celsius: number): number | undefined {
  return GSP_ACCURACY.temperature.find((b) => celsius >= b.from && celsius <= b.to)?.limit;
}

/** The strictest GSP limit anywhere in a place's range (a 2–8 °C room: 0.5; −25…−15 °C: 1.0). */
export function gspLimitForRange(range: { min: number; max: number }): number | undefined {
  const limits = GSP_ACCURACY.temperature.filter((b) => range.max >= b.from && range.min <= b.to).map((b) => b.limit);
  return limits.length ? Math.min(...limits) : undefined;
}

/** The error found at a point: as the certificate states it, else reading − reference. Never applied to readings. */
export const errorOf = (p: CalibrationPoint): number => p.error ?? Number((p.reading - p.reference).toFixed(4));

const fmt = (n: number) => String(Number(n.toFixed(3)));

/**
 * What is wrong with a sensor's declared accuracy for the place it serves (its profile's
 * temperature range, and humidity if the place has a humidity range), in words.
 */
export function declaredAccuracyProblems(calibration: SensorCalibration, range: { min: number; max: number }, measuresHumidity: boolean): string[] {
  const problems: string[] = [];
  const limit = gspLimitForRange(range);
  if (limit !== undefined && calibration.accuracy.temperature > limit)
    problems.push(
      `declared accuracy ±${fmt(calibration.accuracy.temperature)} °C is coarser than GSP's ±${limit} °C for a place kept at ${fmt(range.min)}…${fmt(range.max)} °C`,
    );
  if (measuresHumidity) {
    if (calibration.accuracy.humidity === undefined)
      problems.push(`no declared humidity accuracy (accuracy.humidity); GSP asks for ±${GSP_ACCURACY.humidity} %RH`);
    else if (calibration.accuracy.humidity > GSP_ACCURACY.humidity)
      problems.push(`declared accuracy ±${fmt(calibration.accuracy.humidity)} %RH is coarser than GSP's ±${GSP_ACCURACY.humidity} %RH`);
  }
  return problems;
}

/**
 * The points of a certificate whose error found exceeds GSP's limit at that reference value, or
 * the sensor's own declared accuracy, in words ("at 5 °C the error found +0.7 °C exceeds GSP's ±0.5 °C").
 * A certificate with any such point does not make the sensor calibrated.
 */
export function certificateProblems(cert: Pick<Certificate, 'number' | 'points'>, declared?: SensorCalibration['accuracy']): string[] {
  const problems: string[] = [];
  for (const p of cert.points) {
    const error = errorOf(p);
    const signed = `${error > 0 ? '+' : ''}${fmt(error)}`;
    if (p.quantity === 'temperature') {
      const limit = gspTemperatureLimit(p.reference);
      if (limit !== undefined && Math.abs(error) > limit + 1e-9)
        problems.push(`certificate ${cert.number}: at ${fmt(p.reference)} °C the error found ${signed} °C exceeds GSP's ±${limit} °C`);
      else if (declared && Math.abs(error) > declared.temperature + 1e-9)
        problems.push(
          `certificate ${cert.number}: at ${fmt(p.reference)} °C the error found ${signed} °C exceeds the declared ±${fmt(declared.temperature)} °C`,
        );
    } else {
      if (Math.abs(error) > GSP_ACCURACY.humidity + 1e-9)
        problems.push(`certificate ${cert.number}: at ${fmt(p.reference)} %RH the error found ${signed} %RH exceeds GSP's ±${GSP_ACCURACY.humidity} %RH`);
      else if (declared?.humidity !== undefined && Math.abs(error) > declared.humidity + 1e-9)
        problems.push(
          `certificate ${cert.number}: at ${fmt(p.reference)} %RH the error found ${signed} %RH exceeds the declared ±${fmt(declared.humidity)} %RH`,
        );
    }
  }
  return problems;
}
