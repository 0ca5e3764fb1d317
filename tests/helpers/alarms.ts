import type { Alert } from '../../alerts/book.js';
import type { Incident } from '../../alerts/incident.js';

/** What an alert nobody has acted on yet carries beside its own facts: open, on time, never relapsed, unsigned, never notified. */
const untouchedAlert = {
  clearedAt: null,
  late: false,
  durationMs: null,
  relapses: 0,
  chattering: false,
  acknowledged: null,
  closed: null,
  lastNotifiedAt: null,
} as const satisfies Partial<Alert>;

/** The same for an incident, which can be shelved too. */
const untouchedIncident = {
  clearedAt: null,
  late: false,
  acknowledged: null,
  closed: null,
  shelved: null,
  lastNotifiedAt: null,
} as const satisfies Partial<Incident>;

type Untouched<T, K extends keyof T> = Omit<T, K> & Partial<Pick<T, K>>;

/** A test's alert: its own facts given, the rest as nobody has acted on it (any of which `fields` may set). */
export const testAlert = (fields: Untouched<Alert, keyof typeof untouchedAlert>): Alert => ({ ...untouchedAlert, ...fields });

/** A test's incident, likewise. */
export const testIncident = (fields: Untouched<Incident, keyof typeof untouchedIncident>): Incident => ({ ...untouchedIncident, ...fields });

/**
 * Readings that raise a temperature alarm in the sample's 2–8 °C places: 25 a minute apart from
 * `start`, 5 at 5 °C and then 20 at 9.5 °C, above the limit for longer than the 10-min activation delay.
 */
export const excursionReadings = (start: number) => Array.from({ length: 25 }, (_, i) => ({ ts: start + i * 60_000, temperature: i < 5 ? 5 : 9.5 }));
