import type { TimeWindow } from '../scenario.js';

export interface ThermalParams {
  setpoint: number;
  ambient: number;
  timeConstantMs: number;
  coolingRatePerHour: number;
  hysteresis: number;
  humidity: number;
  ambientHumidity: number;
  initial?: number;
  doorAirExchange: number;
}

export interface Disturbances {
  /** Door open: the inside exchanges air with the outside about this many times faster. */
  doorOpen: boolean;
  /** The cooling unit has no power or has failed. */
  coolingFailed: boolean;
  /** Defrost heater on (°C per hour), 0 otherwise. */
  heatingRatePerHour: number;
}

/**
 * A well-mixed insulated space: Newton cooling towards ambient through the walls, a compressor
 * with on/off hysteresis around the setpoint, a door that lets outside air in, a defrost heater.
 * dT/dt = (T_amb − T)/τ_eff − cooling + heating
 */
export class ThermalSpace {
  temperature: number;
  compressorOn = false;

  constructor(readonly params: ThermalParams) {
    this.temperature = params.initial ?? params.setpoint;
  }

  step(dtMs: number, disturbances: Disturbances): void {
    const { ambient, timeConstantMs, coolingRatePerHour, setpoint, hysteresis } = this.params;
    const tau = disturbances.doorOpen ? timeConstantMs / this.params.doorAirExchange : timeConstantMs;
    if (disturbances.coolingFailed || disturbances.heatingRatePerHour > 0) this.compressorOn = false;
    else if (this.temperature >= setpoint + hysteresis / 2) this.compressorOn = true;
    else if (this.temperature <= setpoint - hysteresis / 2) this.compressorOn = false;
    // Exact solution of the drift over dt, so large steps stay stable.
    const drift = (ambient - this.temperature) * (1 - Math.exp(-dtMs / tau));
    const hours = dtMs / 3_600_000;
    const cooling = this.compressorOn ? coolingRatePerHour * hours : 0;
    this.temperature += drift - cooling + disturbances.heatingRatePerHour * hours;
  }

  /** Relative humidity follows the door (outside air) and, weakly, the temperature. */
  humidity(doorOpen: boolean): number {
    const { humidity, ambientHumidity, setpoint, ambient } = this.params;
    const towardsOutside = ambient === setpoint ? 0 : (this.temperature - setpoint) / (ambient - setpoint);
    const base = humidity + (ambientHumidity - humidity) * Math.min(1, Math.max(0, towardsOutside)) * 0.5;
    return Math.min(100, Math.max(0, doorOpen ? base + 12 : base));
  }
}

/** The warming a space with no cooling follows: T(t) = T_amb + (T0 − T_amb)·e^(−t/τ). */
export function passiveWarming(t0: number, ambient: number, timeConstantMs: number, elapsedMs: number): number {
  return ambient + (t0 - ambient) * Math.exp(-elapsedMs / timeConstantMs);
}

export const inWindow = (windows: TimeWindow[], offsetMs: number) => windows.some((w) => offsetMs >= w.at && offsetMs < w.at + w.duration);
