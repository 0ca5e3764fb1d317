import { beforeAll, describe, expect, it } from 'vitest';
import type { GspRecord, ShipmentReport } from '../reports/schema.js';
import { calibratedSensor, influxFor, readingsStored, serviceSuite, waybill } from './helpers/workspace.js';

const MIN = 60_000;

/**
 * Late data against the real service (real influxd, real broker; issue 13, item 2): in the cold
 * room, room-a sends its live readings, then a store-and-forward backlog of an hour taken 2–3 h
 * ago; room-b sends live readings only, and has ten readings written the way the service wrote
 * them before it kept arrival times (no receivedAt). The hospital fridge has live data only.
 * receivedAt is set by the service at arrival: the test never sends it.
 */
describe('late data: marked with its arrival time and counted, in the GSP record and the shipment report', () => {
  const suite = serviceSuite(() => ({
    devices: [
      // Calibrated, so that the record's only extra column is the late mark.
      { id: 'room-a', location: 'dc-sh-cold-room-1', calibration: calibratedSensor('SN-ROOM-A') },
      { id: 'room-b', location: 'dc-sh-cold-room-1', calibration: calibratedSensor('SN-ROOM-B') },
      { id: 'fridge-a', location: 'hospital-pudong-fridge', calibration: calibratedSensor('SN-FRIDGE-A') },
    ],
  }));
  const { api, devices } = suite;
  const T = Math.floor(Date.now() / MIN) * MIN;
  const at = (minute: number) => T + minute * MIN;
  const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
  let backlogSentAt = 0;
  let backlogAckedAt = 0;

  const publish = (deviceId: string, minutes: number[], temperature = 5) =>
    devices.send(
      deviceId,
      minutes.map((m) => ({ ts: at(m), temperature: temperature + 0.1 * Math.sin(m), humidity: 55, seq: 1000 + m })),
    );

  const ship = async (id: string, locationId: string, storedAt: number) => {
    const created = await api('POST', '/api/v1/shipments', waybill(id, { batch: 'LOT-2026-7', quantity: 10, unit: 'cases' }));
    expect(created.status).toBe(201);
    const stored = await api('POST', `/api/v1/shipments/${id}/custody`, { event: 'stored', locationId, at: new Date(storedAt).toISOString(), by: 'Wang Wei' });
    expect(stored.status).toBe(201);
  };

  beforeAll(async () => {
    // Live: the last 9 minutes, arriving at most 9 min after they were taken (on time: the threshold is 15 min).
    await Promise.all([publish('room-a', range(-8, 1)), publish('room-b', range(-8, 1)), publish('fridge-a', range(-8, 1))]);
    // The backlog: room-a's readings of 3 h to 2 h ago, uploaded now in one go.
    backlogSentAt = Date.now();
    await publish('room-a', range(-180, -120));
    backlogAckedAt = Date.now();
    // Readings stored before receivedAt existed: no arrival time, never late however old.
    await influxFor(suite.ws).write(
      range(-100, -90)
        .map((m) => `readings,deviceId=room-b,locationId=dc-sh-cold-room-1,siteId=dc-shanghai temperature=5.2,humidity=55,seq=${1000 + m}i ${at(m)}000000`)
        .join('\n'),
    );
    const influx = influxFor(suite.ws);
    await readingsStored(influx, 'room-a', (n) => n === 69, 'room-a readings');
    await readingsStored(influx, 'room-b', (n) => n === 19, 'room-b readings');
    await readingsStored(influx, 'fridge-a', (n) => n === 9, 'fridge readings');
    await ship('SH-LATE-1', 'dc-sh-cold-room-1', at(-200));
    await ship('SH-ONTIME-1', 'hospital-pudong-fridge', at(-30));
  });

  const expectBacklogRun = (runs: ShipmentReport['overall']['lateData']) => {
    expect(runs).toHaveLength(1);
    const run = runs[0]!;
    expect(run).toMatchObject({ deviceId: 'room-a', locationId: 'dc-sh-cold-room-1', start: at(-180), end: at(-121), readings: 60, late: true });
    expect(run.receivedAt).toBeGreaterThanOrEqual(backlogSentAt);
    expect(run.lastReceivedAt).toBeLessThanOrEqual(backlogAckedAt);
    expect(run.maxDelayMs).toBe(run.lastReceivedAt - at(-180));
  };
  const expectBacklogCounts = (c: ShipmentReport['overall']['completeness']) => {
    expect(c.late).toBe(60);
    expect(c.latestArrivalDelayMs).toBeGreaterThanOrEqual(backlogSentAt - at(-180));
    expect(c.latestArrivalDelayMs).toBeLessThanOrEqual(backlogAckedAt - at(-180));
  };

  it('marks the late rows of the GSP record with their arrival time and counts them (JSON and CSV)', async () => {
    const query = `from=${new Date(at(-200)).toISOString()}&to=${new Date(at(2)).toISOString()}`;
    const { status, body } = await api('GET', `/api/v1/locations/dc-sh-cold-room-1/record?${query}`);
    expect(status).toBe(200);
    const record = body as GspRecord;
    expectBacklogCounts(record.completeness);
    expectBacklogRun(record.lateData);
    expect(record.completeness.present).toBe(88);
    const late = record.rows.filter((r) => r.late);
    expect(late.length).toBeGreaterThanOrEqual(2);
    for (const row of late) {
      expect(row.deviceId).toBe('room-a');
      expect(row.at).toBeGreaterThanOrEqual(at(-180));
      expect(row.at).toBeLessThanOrEqual(at(-121));
      expect(row.receivedAt! - row.at).toBeGreaterThan(15 * MIN);
    }
    // Live rows and the rows stored without an arrival time carry no mark and no arrival time.
    for (const row of record.rows.filter((r) => !r.late)) expect(row).not.toHaveProperty('receivedAt');
    expect(record.rows.some((r) => r.deviceId === 'room-b' && r.at >= at(-100) && r.at < at(-90))).toBe(true);
    expect(record.rows.some((r) => r.at >= at(-8))).toBe(true);

    const csv = (await api('GET', `/api/v1/locations/dc-sh-cold-room-1/record?${query}&format=csv&tz=UTC`)).body as string;
    expect(csv).toContain(',Arrived late (received at)\r\n');
    expect(csv.match(/,LATE \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\r\n/g)).toHaveLength(late.length);
    expect(csv).toMatch(/60 readings arrived late, up to 3 h 0[0-2] min after they were taken/);
    expect(csv).toContain('LATE: the reading arrived more than max(2 × the device interval, 15 min) after it was taken');
    expect(csv).toMatch(/\r\nroom-a \(LATE\),dc-sh-cold-room-1,[^,]+,[^,]+,60,/);
    const zh = (await api('GET', `/api/v1/locations/dc-sh-cold-room-1/record?${query}&format=csv&lang=zh-CN&tz=UTC`)).body as string;
    expect(zh).toContain(',迟到（接收时间）\r\n');
    expect(zh).toMatch(/60 条读数迟到上传，最长在采集后 3小时 0[0-2]分 才收到/);
  });

  it('shows the late data of a shipment with its arrival time and counts it in completeness, figures unchanged (JSON and CSV)', async () => {
    const { status, body } = await api('GET', '/api/v1/shipments/SH-LATE-1/report');
    expect(status).toBe(200);
    const report = body as ShipmentReport;
    expectBacklogCounts(report.overall.completeness);
    expectBacklogCounts(report.segments[0]!.figures.completeness);
    expectBacklogRun(report.overall.lateData);
    expect(report.overall.readings).toBe(88);
    expect(report.overall.excursions).toEqual([]);
    expect(report.overall.mkt).toBeGreaterThan(4.8);
    expect(report.overall.mkt).toBeLessThan(5.3);

    const csv = (await api('GET', '/api/v1/shipments/SH-LATE-1/report?format=csv&tz=UTC')).body as string;
    expect(csv).toContain('Late data (arrived long after it was taken)');
    expect(csv).toMatch(/60 readings arrived late, up to 3 h 0[0-2] min after they were taken/);
    expect(csv).toMatch(/\r\nroom-a \(LATE\),dc-sh-cold-room-1,[^,]+,[^,]+,60,\d{4}-\d{2}-\d{2} [^,]+,3 h 0[0-2] min\r\n/);
    expect(csv).toContain('(60 late)');
    expect(csv).toContain('LATE: the reading arrived more than max(2 × the device interval, 15 min) after it was taken');
  });

  it('shows no late data where everything arrived on time', async () => {
    const query = `from=${new Date(at(-30)).toISOString()}&to=${new Date(at(2)).toISOString()}`;
    const record = (await api('GET', `/api/v1/locations/hospital-pudong-fridge/record?${query}`)).body as GspRecord;
    expect(record.rows.length).toBeGreaterThan(0);
    expect(record.completeness).toMatchObject({ present: 9, late: 0, latestArrivalDelayMs: null });
    expect(record.lateData).toEqual([]);
    expect(record.rows.filter((r) => r.late || r.receivedAt !== undefined)).toEqual([]);
    const report = (await api('GET', '/api/v1/shipments/SH-ONTIME-1/report')).body as ShipmentReport;
    expect(report.overall.completeness).toMatchObject({ late: 0, latestArrivalDelayMs: null });
    expect(report.overall.lateData).toEqual([]);
    for (const csv of [
      (await api('GET', `/api/v1/locations/hospital-pudong-fridge/record?${query}&format=csv`)).body as string,
      (await api('GET', '/api/v1/shipments/SH-ONTIME-1/report?format=csv')).body as string,
    ]) {
      for (const mark of ['LATE', 'Late data', 'arrived late', 'Arrived late']) expect(csv).not.toContain(mark);
    }
  });
});
