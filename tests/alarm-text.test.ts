import { describe, expect, it } from 'vitest';
import {
  alertKinds,
  isCalibrationKind,
  isIntegrityKind,
  isStabilityKind,
  isSystemKind,
  severities,
  type AlertKind,
  type CalibrationAlertKind,
  type IntegrityAlertKind,
  type StabilityAlertKind,
  type SystemAlertKind,
} from '../core/config/alert-rules.js';
import { alertStates, type Alert } from '../alerts/book.js';
import {
  alarmTextSchema,
  defaultProcedure,
  describeAlert,
  describeIncident,
  formatDuration,
  formatTime,
  kindLabels,
  locationKindLabels,
  severityLabels,
  stateLabels,
  type AlarmContext,
  type AlarmText,
  type Lang,
} from '../alerts/text.js';
import { testAlert, testIncident } from './helpers/alarms.js';

const MIN = 60_000;
// 14:30 in Shanghai.
const now = Date.UTC(2024, 4, 1, 6, 30);
const langs: Lang[] = ['en', 'zh-CN'];
const snakeCode = /[a-z]+_[a-z]+/;
// "warning" is also an English word ("warning level"), so it is checked through the labels instead.
const severityCode = /\b(info|minor|major|critical)\b/;
const ids = ['dc-shanghai', 'dc-sh-cold-room-1', 'room-1', 'room-2', 'room-3', 'al_', 'in_'];

const hourOf = (from: number, to: number): Array<[number, number]> =>
  Array.from({ length: 61 }, (_, i) => [now - 60 * MIN + i * MIN, from + ((to - from) * i) / 60]);

const ctx = (over: Partial<AlarmContext> = {}): AlarmContext => ({
  siteName: 'Shanghai distribution centre',
  locationName: 'Cold room 1',
  locationKind: 'cold_room',
  deviceNames: { 'room-1': 'Probe by the door', 'room-2': 'Probe at the back', 'room-3': 'Probe on rack 4' },
  range: { temperature: { min: 2, max: 8 }, humidity: { min: 35, max: 65 } },
  trend: [{ deviceId: 'room-1', points: hourOf(6.8, 9.1) }],
  timeZone: 'Asia/Shanghai',
  now,
  ...over,
});

const alert = (over: Partial<Alert> & Pick<Alert, 'kind' | 'threshold' | 'peak'>) =>
  testAlert({
    id: 'al_0123456789abcdef0123',
    severity: 'major',
    state: 'active',
    siteId: 'dc-shanghai',
    locationId: 'dc-sh-cold-room-1',
    deviceId: 'room-1',
    occurredAt: now - 25 * MIN,
    activatedAt: now - 15 * MIN,
    detectedAt: now - 15 * MIN,
    incidentId: 'in_1',
    tier: 1,
    ...over,
  });

/**
 * Kinds about a place's goods; system alarms (InfluxDB, spool, backup, audit, clock) are tested in
 * tests/system-alarms.test.ts, calibration alarms in tests/calibration.test.ts, reading_conflict in
 * tests/immutable-readings.test.ts, stability budget alarms in tests/stability.test.ts.
 */
type PlaceKind = Exclude<AlertKind, SystemAlertKind | CalibrationAlertKind | IntegrityAlertKind | StabilityAlertKind>;
const placeKinds = alertKinds.filter((k): k is PlaceKind => !isSystemKind(k) && !isCalibrationKind(k) && !isIntegrityKind(k) && !isStabilityKind(k));

/** A realistic alert of each kind, in the units the evaluator uses. */
const sample: Record<PlaceKind, Partial<Alert> & Pick<Alert, 'kind' | 'threshold' | 'peak'>> = {
  temperature_high: { kind: 'temperature_high', threshold: 8, peak: 9.4 },
  temperature_low: { kind: 'temperature_low', threshold: 2, peak: 0.6 },
  temperature_warning_high: { kind: 'temperature_warning_high', severity: 'warning', threshold: 7.5, peak: 7.9 },
  temperature_warning_low: { kind: 'temperature_warning_low', severity: 'warning', threshold: 2.5, peak: 2.2 },
  humidity_high: { kind: 'humidity_high', severity: 'minor', threshold: 65, peak: 72 },
  humidity_low: { kind: 'humidity_low', severity: 'minor', threshold: 35, peak: 30 },
  cumulative_time_out_of_range: { kind: 'cumulative_time_out_of_range', threshold: 60 * MIN, peak: 75 * MIN },
  rate_of_change: { kind: 'rate_of_change', severity: 'minor', threshold: 10, peak: 14.2 },
  // Door opened 12 min before it closed.
  door_open: {
    kind: 'door_open',
    severity: 'minor',
    threshold: 5 * MIN,
    peak: 5 * MIN,
    occurredAt: now - 20 * MIN,
    activatedAt: now - 15 * MIN,
    clearedAt: now - 8 * MIN,
    durationMs: 12 * MIN,
    state: 'cleared',
  },
  battery_low: { kind: 'battery_low', severity: 'warning', threshold: 20, peak: 12 },
  // Last reading 40 min ago, 3-min timeout, still silent.
  device_silent: { kind: 'device_silent', severity: 'critical', threshold: 3 * MIN, peak: 3 * MIN, occurredAt: now - 37 * MIN, activatedAt: now - 37 * MIN },
};

function expectReadable(text: AlarmText, lang: Lang): void {
  expect(alarmTextSchema.parse(text)).toEqual(text);
  for (const [field, value] of Object.entries(text)) {
    expect(value.trim(), field).not.toBe('');
    expect(value, `${field}: ${value}`).not.toMatch(snakeCode);
    expect(value, `${field}: ${value}`).not.toMatch(severityCode);
    for (const id of ids) expect(value, `${field} shows the id ${id}`).not.toContain(id);
    if (lang === 'zh-CN') expect(value, `${field} is Chinese`).toMatch(/[\u4e00-\u9fff]/);
  }
  expect(text.title).not.toContain('\n');
}

describe('alarm text', () => {
  it('every kind in both languages: all fields filled, names not ids, no raw codes', () => {
    for (const kind of placeKinds) {
      for (const lang of langs) {
        const a = alert(sample[kind]);
        const text = describeAlert(a, ctx(), lang);
        expectReadable(text, lang);
        expect(text.where).toContain('Shanghai distribution centre');
        expect(text.where).toContain('Cold room 1');
        expect(text.where).toContain('Probe by the door');
        expect(text.title).toContain('Cold room 1');
        expect(text.what).toContain(kindLabels[kind][lang]);
        expect(text.what).toContain(severityLabels[a.severity][lang]);
        expect(text.action).toBe(
          `${a.state === 'cleared' ? (lang === 'en' ? 'The condition has ended; complete the follow-up: ' : '情况已结束，请完成后续步骤：') : ''}${defaultProcedure(kind, 'cold_room')[lang]}`,
        );
      }
    }
  });

  it('the figures are right, in the unit of each kind', () => {
    const en = (kind: PlaceKind, over: Partial<AlarmContext> = {}) => describeAlert(alert(sample[kind]), ctx(over), 'en');
    const zh = (kind: PlaceKind) => describeAlert(alert(sample[kind]), ctx(), 'zh-CN');
    expect(en('temperature_high').title).toBe('Cold room 1 (Shanghai distribution centre): temperature above 8 °C for 25 min, up to 9.4 °C');
    expect(zh('temperature_high').title).toBe('Cold room 1（Shanghai distribution centre）：温度高于 8 °C 已 25分钟，最高 9.4 °C');
    expect(en('temperature_high').howFar).toContain('1.4 °C above the 8 °C limit');
    expect(en('temperature_low').howFar).toContain('1.4 °C below the 2 °C limit');
    expect(en('temperature_warning_high').howFar).toContain('0.1 °C short of the limit');
    expect(en('door_open').title).toContain('door was open for 12 min (allowed 5 min)');
    expect(en('door_open').howFar).toBe('Open 12 min, 7 min longer than the 5 min allowed.');
    expect(zh('door_open').title).toContain('门开启了 12分钟（允许 5分钟）');
    // Folded relapses: the longest opening counts, not the time from the first opening to the last closing.
    const folded = describeAlert(
      alert({ ...sample.door_open, relapses: 2, peak: 8 * MIN, occurredAt: now - 60 * MIN, clearedAt: now - 5 * MIN, durationMs: 55 * MIN }),
      ctx(),
      'en',
    );
    expect(folded.title).toContain('door was open for 8 min (allowed 5 min)');
    expect(folded.what).toContain('It came back 2 times after clearing.');
    expect(en('device_silent').title).toContain('no data from sensor Probe by the door for 40 min');
    expect(zh('device_silent').title).toContain('40分钟无数据');
    expect(en('device_silent').since).toMatch(/^Last data at 2024-05-01 13:50; alarm since 2024-05-01 13:53/);
    expect(en('humidity_high').title).toContain('humidity above 65 %RH for 25 min, up to 72 %RH');
    expect(en('humidity_high').howFar).toContain('Allowed range 35 %RH to 65 %RH');
    expect(zh('humidity_low').title).toContain('湿度低于 35 %RH');
    expect(en('cumulative_time_out_of_range', { cumulativeWindowMs: 24 * 60 * MIN }).title).toContain(
      'out of range for 1 h 15 min in total within 1 d, more than the 1 h allowed',
    );
    expect(en('cumulative_time_out_of_range').howFar).toContain('15 min over');
    expect(en('rate_of_change').title).toContain('14.2 °C/h (limit 10 °C/h)');
    expect(en('battery_low').title).toContain('battery of sensor Probe by the door at 12 % (below 20 %)');
    expect(zh('battery_low').howFar).toBe('剩余电量 12 %，低于报警值 20 %。');
  });

  it('durations in words and times in the configured zone', () => {
    expect(formatDuration(65 * MIN, 'en')).toBe('1 h 5 min');
    expect(formatDuration(65 * MIN, 'zh-CN')).toBe('1小时5分钟');
    expect(formatDuration(60 * MIN, 'en')).toBe('1 h');
    expect(formatDuration(26 * 60 * MIN + 10 * MIN, 'en')).toBe('1 d 2 h');
    expect(formatDuration(26 * 60 * MIN, 'zh-CN')).toBe('1天2小时');
    expect(formatDuration(40_000, 'en')).toBe('40 s');
    expect(formatTime(now, 'Asia/Shanghai')).toBe('2024-05-01 14:30');
    expect(formatTime(now, 'UTC')).toBe('2024-05-01 06:30');
    const text = describeAlert(alert(sample.temperature_high), ctx(), 'en');
    expect(text.since).toBe('Since 2024-05-01 14:05 (Asia/Shanghai), 25 min ago.');
    const cleared = describeAlert(
      alert({ ...sample.temperature_high, state: 'cleared', clearedAt: now - 5 * MIN, durationMs: 20 * MIN }),
      ctx({ timeZone: 'UTC' }),
      'zh-CN',
    );
    expect(cleared.since).toBe('2024-05-01 06:05 至 2024-05-01 06:25（UTC）。');
    expect(cleared.title).toContain('持续 20分钟');
    expect(cleared.title).toContain('已恢复');
  });

  it('late detection is said in words', () => {
    const late = alert({ ...sample.temperature_high, late: true, detectedAt: now - 5 * MIN });
    const en = describeAlert(late, ctx(), 'en');
    expect(en.title).toContain('found late');
    expect(en.since).toContain('Found late: the readings arrived 20 min after it happened');
    const zh = describeAlert(late, ctx(), 'zh-CN');
    expect(zh.title).toContain('延迟发现');
    expect(zh.since).toContain('数据在发生后 20分钟 才上传');
  });

  it('the configured procedure wins over the default, in either form', () => {
    const a = alert(sample.temperature_high);
    const both = { en: 'Call the duty engineer on 555-0100, then move pallets to room 2.', 'zh-CN': '致电值班工程师 555-0100，然后将托盘移至 2 号库。' };
    expect(describeAlert(a, ctx({ procedure: both }), 'en').action).toBe(both.en);
    expect(describeAlert(a, ctx({ procedure: both }), 'zh-CN').action).toBe(both['zh-CN']);
    expect(describeAlert(a, ctx({ procedure: 'SOP-CC-07 section 3' }), 'zh-CN').action).toBe('SOP-CC-07 section 3');
    const vehicle = describeAlert(
      a,
      ctx({
        locationKind: 'vehicle_compartment',
        locationName: 'Rear compartment',
        siteName: 'Truck 7',
        vehicle: { plate: '沪A·12345', type: 'reefer truck' },
      }),
      'en',
    );
    expect(vehicle.action).toBe(defaultProcedure('temperature_high', 'vehicle_compartment').en);
    expect(vehicle.action).toContain('dispatch');
    expect(vehicle.where).toBe('Rear compartment (vehicle compartment) of Truck 7 (reefer truck, plate 沪A·12345); sensor: Probe by the door');
    expect(vehicle.title.startsWith('Rear compartment (Truck 7, 沪A·12345): ')).toBe(true);
  });

  it('every default procedure is concrete in both languages', () => {
    for (const kind of alertKinds) {
      for (const place of ['cold_room', 'vehicle_compartment'] as const) {
        const p = defaultProcedure(kind, place);
        expect(p.en.length).toBeGreaterThan(80);
        expect(p['zh-CN']).toMatch(/[\u4e00-\u9fff]/);
        expect(p.en).not.toMatch(snakeCode);
      }
    }
    expect(defaultProcedure('temperature_high', 'cold_room').en).toMatch(/door.*cooling unit.*backup cold store.*quarantine.*acknowledgement comment/s);
  });

  it('the trend of the last hour: rising, falling, steady, stale, none', () => {
    const trendOf = (points: Array<[number, number]>, lang: Lang = 'en') =>
      describeAlert(alert(sample.temperature_high), ctx({ trend: [{ deviceId: 'room-1', points }] }), lang).trend;
    expect(trendOf(hourOf(6.8, 9.1))).toBe('Rising 2.3 °C over the last hour (6.8 °C to 9.1 °C), now 9.1 °C.');
    expect(trendOf(hourOf(6.8, 9.1), 'zh-CN')).toBe('过去1小时上升 2.3 °C（6.8–9.1 °C），当前 9.1 °C。');
    expect(trendOf(hourOf(9, 5.5))).toBe('Falling 3.5 °C over the last hour (5.5 °C to 9 °C), now 5.5 °C.');
    expect(trendOf(hourOf(5, 5.1))).toMatch(/^Steady over the last hour/);
    expect(trendOf(hourOf(5, 6).slice(0, 31))).toBe('Rising 0.5 °C over the last 30 min (5 °C to 5.5 °C), last reading 5.5 °C 30 min ago.');
    // Points older than the hour are not part of it.
    expect(trendOf([[now - 2 * 60 * MIN, 3]])).toBe('No temperature data in the last hour.');
    expect(describeAlert(alert(sample.temperature_high), ctx({ trend: undefined }), 'zh-CN').trend).toBe('过去1小时无温度数据。');
  });

  it('an incident: headline kind first, how many sensors, the worst value, the other kinds, who acted', () => {
    const members = [
      alert({ ...sample.temperature_high, id: 'al_a', deviceId: 'room-1', peak: 9.4 }),
      alert({ ...sample.temperature_high, id: 'al_b', deviceId: 'room-2', peak: 10.2, occurredAt: now - 30 * MIN }),
      alert({ ...sample.temperature_high, id: 'al_c', deviceId: 'room-3', peak: 8.6, occurredAt: now - 20 * MIN }),
      alert({ ...sample.temperature_warning_high, id: 'al_d', deviceId: 'room-1', occurredAt: now - 35 * MIN }),
      alert({ ...sample.door_open, id: 'al_e', deviceId: 'room-1', occurredAt: now - 40 * MIN }),
    ];
    const incident = testIncident({
      id: 'in_7f3a',
      siteId: 'dc-shanghai',
      locationId: 'dc-sh-cold-room-1',
      state: 'acknowledged',
      severity: 'major',
      headline: 'temperature_high',
      kinds: ['temperature_high', 'temperature_warning_high', 'door_open'],
      deviceIds: ['room-1', 'room-2', 'room-3'],
      alertIds: members.map((m) => m.id),
      occurredAt: now - 40 * MIN,
      detectedAt: now - 15 * MIN,
      notify: 'page',
      acknowledged: { by: 'olga', printedName: 'Olga Operator', at: now - 10 * MIN, meaning: 'reviewed', comment: 'door closed' },
      shelved: { by: 'olga', printedName: 'Olga Operator', at: now - 9 * MIN, until: now + 50 * MIN, reason: 'defrost test' },
      tier: 1,
    });
    const procedure = { en: 'Follow SOP-CC-07.', 'zh-CN': '按 SOP-CC-07 处理。' };
    for (const lang of langs) expectReadable(describeIncident(incident, members, ctx({ procedure }), lang), lang);
    const en = describeIncident(incident, members, ctx({ procedure }), 'en');
    expect(en.title).toBe('Cold room 1 (Shanghai distribution centre): temperature above 8 °C for 30 min, up to 10.2 °C (3 sensors)');
    expect(en.what).toContain('Temperature above range (Major, acknowledged)');
    expect(en.what).toContain('Seen by 3 sensors: Probe by the door, Probe at the back, Probe on rack 4.');
    expect(en.what).toContain('Also: Temperature near the upper limit, Door open too long.');
    expect(en.what).toContain('Acknowledged by Olga Operator at 2024-05-01 14:20.');
    expect(en.what).toContain('Shelved by Olga Operator until 2024-05-01 15:20: defrost test.');
    expect(en.since).toBe('Since 2024-05-01 13:50 (Asia/Shanghai), 40 min ago.');
    expect(en.howFar).toContain('2.2 °C above the 8 °C limit (peak 10.2 °C)');
    expect(en.action).toBe('Follow SOP-CC-07.');
    expect(en.trend).toContain('Probe by the door: Rising 2.3 °C');
    expect(en.trend).toContain('Probe at the back: No temperature data in the last hour.');
    const zh = describeIncident(incident, members, ctx({ procedure }), 'zh-CN');
    expect(zh.title).toBe('Cold room 1（Shanghai distribution centre）：温度高于 8 °C 已 30分钟，最高 10.2 °C（3个传感器）');
    expect(zh.what).toContain('3个传感器同时检测到');
    expect(zh.what).toContain('同时：温度接近上限（临界值）、开门时间过长。');
    expect(zh.action).toBe('按 SOP-CC-07 处理。');
  });

  it('an incident without its members still reads (figures from the range)', () => {
    const incident = testIncident({
      id: 'in_x',
      siteId: 'dc-shanghai',
      locationId: 'dc-sh-cold-room-1',
      state: 'closed',
      severity: 'critical',
      headline: 'temperature_low',
      kinds: ['temperature_low'],
      deviceIds: ['room-2'],
      alertIds: [],
      occurredAt: now - 90 * MIN,
      detectedAt: now - 80 * MIN,
      clearedAt: now - 30 * MIN,
      late: true,
      notify: 'page',
      tier: 0,
    });
    for (const lang of langs) expectReadable(describeIncident(incident, [], ctx(), lang), lang);
    const en = describeIncident(incident, [], ctx(), 'en');
    expect(en.title).toBe('Cold room 1 (Shanghai distribution centre): temperature below 2 °C for 1 h, down to 2 °C — Closed, found late');
    expect(en.action.startsWith('The condition has ended')).toBe(true);
  });

  it('labels exist for every code in both languages, with distinct severity words', () => {
    for (const kind of alertKinds) for (const lang of langs) expect(kindLabels[kind][lang]).not.toMatch(snakeCode);
    for (const state of alertStates) for (const lang of langs) expect(stateLabels[state][lang]).toBeTruthy();
    for (const lang of langs) {
      expect(new Set(severities.map((s) => severityLabels[s][lang])).size).toBe(severities.length);
      expect(new Set(alertKinds.map((k) => kindLabels[k][lang])).size).toBe(alertKinds.length);
    }
    expect(severityLabels.major).toEqual({ en: 'Major', 'zh-CN': '严重' });
    expect(locationKindLabels.vehicle_compartment['zh-CN']).toBe('车厢');
  });

  it('retracted and discarded alerts ask for nothing', () => {
    expect(describeAlert(alert({ ...sample.temperature_high, state: 'retracted' }), ctx(), 'en').action).toBe(
      'No action needed: later data show it did not happen.',
    );
    expect(describeAlert(alert({ ...sample.temperature_high, state: 'discarded', clearedAt: now - 20 * MIN }), ctx(), 'zh-CN').action).toBe(
      '无需处理：在报警延时内已恢复。',
    );
  });
});
