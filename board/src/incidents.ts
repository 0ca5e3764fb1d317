import type { IncidentView } from './api.js';

const SEVERITY_RANK: Record<string, number> = { info: 0, warning: 1, minor: 2, major: 3, critical: 4 };
const STATE_RANK: Record<string, number> = { active: 3, acknowledged: 2, cleared: 1, closed: 0 };

/** Shelved now (a shelf past its end no longer counts, even before the server says so). */
export const isShelved = (incident: IncidentView, now: number) => Boolean(incident.shelved && incident.shelved.until > now);

/**
 * What the banner, the nav count, the title and the chime are about (ISA-18.2): active incidents
 * nobody has acknowledged or shelved, that page people or show on the board (the digest waits).
 */
export const needsSomeone = (incident: IncidentView, now: number) =>
  incident.state === 'active' && !incident.acknowledged && !isShelved(incident, now) && (incident.notify === 'page' || incident.notify === 'board');

/** Unattended first, then by state, severity, and newest. */
export function byUrgency(now: number) {
  return (a: IncidentView, b: IncidentView) =>
    Number(needsSomeone(b, now)) - Number(needsSomeone(a, now)) ||
    Number(isShelved(a, now)) - Number(isShelved(b, now)) ||
    (STATE_RANK[b.state] ?? 0) - (STATE_RANK[a.state] ?? 0) ||
    (SEVERITY_RANK[b.severity] ?? 0) - (SEVERITY_RANK[a.severity] ?? 0) ||
    b.occurredAt - a.occurredAt;
}
