import { afterAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { RECENT_READINGS_MAX, RecentReadings } from '../ingestor/records.js';
import type { ReadingsResponse } from '../api/readings.js';
import type { GspRecord } from '../reports/schema.js';
import { connectDevice, influxFor, makeWorkspace, readingCount, readingsStored, rejectsOf, serviceOn, waitFor } from './helpers/workspace.js';

/** Issue 13, item 1: a stored reading is never overwritten; a different one at the same device time is kept beside it and flagged. */
describe('immutable readings', () => {
  const suite = serviceOn(() => makeWorkspace({ devices: ['same-1', 'diff-1', 'jump-1'] }));
  const clients: MqttClient[] = [];
  const auth = () => ({ headers: { Authorization: `Bearer ${suite.ws.apiTokens.viewer}` } });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync()));
  });

  const device = async (id: string) => {
    const client = await connectDevice(suite.service.mqttPort!, id, suite.ws.deviceTokens[id]!);
    clients.push(client);
    return (reading: object) => client.publishAsync(`cc/v1/${id}/telemetry`, JSON.stringify(reading), { qos: 1 });
  };
  const metric = async (kind: string) => {
    const text = await (await fetch(`${suite.base}/metrics`, auth())).text();
    const match = new RegExp(`^coldchain_reading_conflicts_total\\{kind="${kind}"\\} (\\d+)$`, 'm').exec(text);
    return Number(match?.[1] ?? Number.NaN);
  };
  /** Waits until the spool is drained into InfluxDB, so what is queried is all there is. */
  const drained = () =>
    waitFor(
      async () => (await (await fetch(`${suite.base}/metrics`, auth())).text()).match(/^coldchain_spool_depth_records (\d+)$/m)?.[1],
      (depth) => depth === '0',
      20_000,
      'the spool to drain',
    );

  it('keeps an identical redelivery as one point', async () => {
    const publish = await device('same-1');
    const ts = Date.now() - 10 * 60_000;
    const reading = { ts, temperature: 4.25, humidity: 51, seq: 3 };
    await publish(reading);
    await publish(reading);
    await publish([reading, { ...reading, ts: ts + 60_000, seq: 4 }]);
    const influx = influxFor(suite.ws);
    await readingsStored(influx, 'same-1', (n) => n >= 2, 'two readings');
    await drained();
    expect(await readingCount(influx, 'same-1')).toBe(2);
    expect(await rejectsOf(influx, 'same-1')).toEqual([]);
    expect(await metric('value')).toBe(0);
  });

  it('keeps a different reading at a stored device time beside the first, counts it, shows it and records the conflict', async () => {
    const publish = await device('diff-1');
    const ts = Date.now() - 20 * 60_000;
    await publish({ ts: ts - 60_000, temperature: 4, seq: 9 });
    await publish({ ts, temperature: 4.5, humidity: 50, seq: 10 });
    await publish({ ts, temperature: 9.75, humidity: 50, seq: 10 });
    // The second again (a redelivery of the revision) and the first again: still two points at ts.
    await publish({ ts, temperature: 9.75, humidity: 50, seq: 10 });
    await publish({ ts, temperature: 4.5, humidity: 50, seq: 10 });
    const influx = influxFor(suite.ws);
    await readingsStored(influx, 'diff-1', (n) => n >= 3, 'three points');
    await drained();
    expect(await readingCount(influx, 'diff-1')).toBe(3);

    const [series] = await influx.query(`SELECT "temperature", "revision" FROM "readings" WHERE "deviceId" = 'diff-1' AND time = ${ts}ms`);
    expect(series!.values.map(([, temperature, revision]) => [temperature, revision]).sort()).toEqual([
      [4.5, null],
      [9.75, '1'],
    ]);
    // The ordinary reading's series has no revision tag (its stored line is what it always was).
    const [plain] = await influx.query(`SELECT "temperature" FROM "readings" WHERE "deviceId" = 'diff-1' AND "revision" = '' ORDER BY time`);
    expect(plain!.values.map(([, t]) => t)).toEqual([4, 4.5]);

    expect(await metric('value')).toBe(1);

    const api = (await (await fetch(`${suite.base}/api/v1/devices/diff-1/readings?from=${ts - 3_600_000}`, auth())).json()) as ReadingsResponse;
    expect(api.readings.map(({ ts: t, temperature, conflict, revision }) => ({ t, temperature, conflict, revision }))).toEqual([
      { t: ts - 60_000, temperature: 4, conflict: undefined, revision: undefined },
      { t: ts, temperature: 4.5, conflict: true, revision: 0 },
      { t: ts, temperature: 9.75, conflict: true, revision: 1 },
    ]);

    const [conflicts] = await influx.query(
      `SELECT "ts", "revision", "firstTemperature", "temperature", "message", "payload" FROM "rejects" WHERE "reason" = 'conflicting_reading' AND "deviceId" = 'diff-1'`,
    );
    expect(conflicts!.values).toHaveLength(1);
    const [, storedTs, revision, firstTemperature, temperature, message, payload] = conflicts!.values[0]!;
    expect({ storedTs, revision, firstTemperature, temperature }).toEqual({ storedTs: ts, revision: 1, firstTemperature: 4.5, temperature: 9.75 });
    expect(message).toContain('both kept');
    expect(JSON.parse(payload as string)).toMatchObject({ ts, temperature: 9.75, humidity: 50, seq: 10 });

    const rejects = (await (await fetch(`${suite.base}/api/v1/rejects?reason=conflicting_reading&device=diff-1`, auth())).json()) as { count: number };
    expect(rejects.count).toBe(1);

    // The GSP record lists the conflict with both readings, first arrived first, in every format and language.
    const window = `from=${ts - 3_600_000}&to=${Date.now() + 60_000}`;
    const record = (await (await fetch(`${suite.base}/api/v1/locations/dc-sh-cold-room-1/record?${window}`, auth())).json()) as GspRecord;
    expect(record.conflicts).toEqual([
      {
        deviceId: 'diff-1',
        locationId: 'dc-sh-cold-room-1',
        at: ts,
        readings: [
          { temperature: 4.5, humidity: 50, receivedAt: expect.any(Number) },
          { temperature: 9.75, humidity: 50, receivedAt: expect.any(Number) },
        ],
      },
    ]);
    expect(record.conflicts[0]!.readings[0]!.receivedAt!).toBeLessThanOrEqual(record.conflicts[0]!.readings[1]!.receivedAt!);
    const csv = await (await fetch(`${suite.base}/api/v1/locations/dc-sh-cold-room-1/record?${window}&format=csv&tz=UTC`, auth())).text();
    expect(csv).toContain('Conflicting readings (a different reading arrived for a device time already stored)');
    expect(csv).toMatch(/\r\ndiff-1,dc-sh-cold-room-1,\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,"4\.5 °C, 50 %RH \| 9\.75 °C, 50 %RH",\d{4}-/);
    const zh = await (await fetch(`${suite.base}/api/v1/locations/dc-sh-cold-room-1/record?${window}&format=csv&lang=zh-CN&tz=UTC`, auth())).text();
    expect(zh).toContain('冲突读数（同一设备时间已存读数后又收到不同读数）');
    expect(zh).toContain('两条读数均予保留');

    // Raised to QA: one reading_conflict alarm for the sensor at its site's monitoring-system place, in both languages.
    const alarm = await waitFor(
      async () => suite.service.alerts.book.list().find((a) => a.kind === 'reading_conflict' && a.deviceId === 'diff-1'),
      (a) => a !== undefined,
      20_000,
      'the reading_conflict alarm',
    );
    expect(alarm).toMatchObject({ locationId: 'system:dc-shanghai', state: 'active', severity: 'major', threshold: ts });
    expect(suite.service.alerts.book.list().filter((a) => a.kind === 'reading_conflict')).toHaveLength(1);
    const incident = suite.service.alerts.incidents.list().find((i) => i.alertIds.includes(alarm!.id))!;
    const { text } = suite.service.alerts.view(incident);
    expect(text.en.what).toMatch(/sensor diff-1 sent a different reading for \d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?, a time already stored/);
    expect(text.en.where).toContain('Monitoring system');
    expect(text['zh-CN'].what).toContain('发来了不同读数');
    expect(text['zh-CN'].action).toContain('质量部门');
  });

  it('flags a clock jump (sequence forward, device time back) and still stores the reading', async () => {
    const publish = await device('jump-1');
    const ts = Date.now() - 5 * 60_000;
    await publish({ ts, temperature: 5, seq: 100 });
    await publish({ ts: ts - 3 * 3_600_000, temperature: 5.1, seq: 101 });
    const influx = influxFor(suite.ws);
    await readingsStored(influx, 'jump-1', (n) => n >= 2, 'both readings');
    await drained();
    expect(await readingCount(influx, 'jump-1')).toBe(2);
    const [jumps] = await influx.query(
      `SELECT "previousTs", "ts", "previousSeq", "seq" FROM "rejects" WHERE "reason" = 'clock_jump' AND "deviceId" = 'jump-1'`,
    );
    expect(jumps!.values.map(([, ...rest]) => rest)).toEqual([[ts, ts - 3 * 3_600_000, 100, 101]]);
    expect(await metric('clock_jump')).toBe(1);
  });
});

describe('the in-memory index of recent readings', () => {
  const reading = (ts: number, temperature = 5) => ({ ts, temperature, seq: ts });

  it('tells new, same and conflicting readings apart, and says when a reading is older than it covers', () => {
    const index = new RecentReadings(300_000);
    const t0 = 1_700_000_000_000;
    expect(index.observe('d', reading(t0)).kind).toBe('new');
    expect(index.observe('d', reading(t0)).kind).toBe('same');
    expect(index.observe('d', reading(t0, 6))).toMatchObject({ kind: 'conflict', revision: 1, firstTemperature: 5 });
    expect(index.observe('d', reading(t0, 6))).toMatchObject({ kind: 'same', revision: 1 });
    expect(index.observe('d', reading(t0, 7))).toMatchObject({ kind: 'conflict', revision: 2 });
    // Fill past the bound: the first readings are evicted and can no longer be checked.
    for (let i = 1; i <= RECENT_READINGS_MAX + 10; i++) index.observe('d', reading(t0 + i * 1000));
    expect(index.observe('d', reading(t0, 8)).kind).toBe('unchecked');
    expect(index.observe('d', reading(t0 + (RECENT_READINGS_MAX + 10) * 1000)).kind).toBe('same');
    expect(index.observe('d', reading(t0 + (RECENT_READINGS_MAX + 10) * 1000, 1)).kind).toBe('conflict');
  });

  it('keeps no more than 48 h of device time', () => {
    const index = new RecentReadings(300_000);
    const t0 = 1_700_000_000_000;
    index.observe('d', reading(t0));
    index.observe('d', reading(t0 + 49 * 3_600_000));
    expect(index.observe('d', reading(t0, 9)).kind).toBe('unchecked');
  });

  it('agrees with a plain model of the same policy over random redeliveries, conflicts and evictions', () => {
    const index = new RecentReadings(300_000);
    // `pending`: a reading found unchecked; every later reading of its device time is unchecked too (the writer decides them).
    const model: Array<{ ts: number; temperature: number; revision: number; pending: boolean }> = [];
    let floor = Number.NEGATIVE_INFINITY;
    let newest = Number.NEGATIVE_INFINITY;
    let seed = 7;
    const random = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    const t0 = 1_700_000_000_000;
    for (let step = 0; step < 30_000; step++) {
      const ts = t0 + (step + random(200) - 100) * 1000 + random(3) * 2000;
      const temperature = 4 + random(3);
      const verdict = index.observe('d', { ts, temperature });
      const same = model.filter((e) => e.ts === ts);
      const match = same.find((e) => e.temperature === temperature);
      let expected: string;
      let revision = 0;
      if (same.some((e) => e.pending)) expected = 'unchecked';
      else if (match) expected = 'same';
      else if (same.length > 0) {
        expected = 'conflict';
        revision = Math.max(...same.map((e) => e.revision)) + 1;
      } else expected = ts <= floor ? 'unchecked' : 'new';
      expect(verdict.kind, `step ${step}`).toBe(expected);
      if (expected === 'same') continue;
      newest = Math.max(newest, ts);
      while (model.length > 0 && model[0]!.ts < newest - 48 * 3_600_000) floor = Math.max(floor, model.shift()!.ts);
      if (model.length === RECENT_READINGS_MAX) floor = Math.max(floor, model.shift()!.ts);
      model.push({ ts, temperature, revision, pending: expected === 'unchecked' });
    }
  });

  it('stays small: a full index of 1,000 devices at one reading a minute for 48 h', () => {
    const index = new RecentReadings(300_000);
    const t0 = 1_700_000_000_000;
    for (let d = 0; d < 1000; d++) for (let i = 0; i < 2880; i++) index.observe(`device-${d}`, reading(t0 + i * 60_000, 4 + (i % 10) / 10));
    // The index's own arrays, counted exactly (heap deltas move with the garbage collector).
    const perReading = index.byteLength / 1000 / 2880;
    console.info(
      `recent-readings index: ${perReading.toFixed(1)} bytes a reading, ${(index.byteLength / 1e6).toFixed(1)} MB for 1,000 devices × 2,880 readings`,
    );
    expect(index.deviceCount).toBe(1000);
    expect(perReading).toBeLessThan(40);
  });
});
