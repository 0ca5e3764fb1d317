import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { InfluxClient } from '../storage/influx.js';
import { FactLog, factLine, type DurableLog, type Fact } from '../storage/fact-log.js';
import { int } from '../storage/line-protocol.js';
import { deviceMessageFact, readingLines, rejectionFact } from '../ingestor/records.js';
import { alertEventFact, incidentEventFact, loadAlertEvents, loadIncidentEvents } from '../alerts/event-store.js';
import type { AlertEvent } from '../alerts/book.js';
import type { IncidentEvent } from '../alerts/incident.js';
import { testAlert, testIncident } from './helpers/alarms.js';

const T = 1_700_000_000_000;
const alert = testAlert({
  id: 'al 1',
  kind: 'temperature_high',
  severity: 'major',
  state: 'active',
  siteId: 'dc,sh',
  locationId: 'room=1',
  deviceId: 'dev 1',
  occurredAt: T - 600_000,
  activatedAt: T - 300_000,
  detectedAt: T - 300_000,
  threshold: 8,
  peak: 9.4,
  incidentId: 'inc-1',
  tier: 0,
});
const incident = testIncident({
  id: 'inc-1',
  siteId: 'dc,sh',
  locationId: 'room=1',
  state: 'active',
  severity: 'major',
  headline: 'temperature_high',
  kinds: ['temperature_high'],
  deviceIds: ['dev 1'],
  alertIds: ['al 1'],
  occurredAt: T - 600_000,
  detectedAt: T - 300_000,
  notify: 'page',
  tier: 0,
});

/** JSON inside a line-protocol string field: its quotes escaped (these objects hold no backslash or newline). */
const quoted = (value: unknown) => JSON.stringify(value).replace(/"/g, '\\"');

/** A spool stand-in that keeps what it was given and writes it to InfluxDB on demand. */
class Lines implements DurableLog {
  readonly lines: string[] = [];
  append(lines: string): Promise<void> {
    this.lines.push(lines);
    return Promise.resolve();
  }
}

describe('stored format: exactly what earlier versions wrote, so existing data replays', () => {
  it('readings, rejects and device messages', () => {
    expect(
      readingLines({
        deviceId: 'dev a,b',
        siteId: 'site=1',
        locationId: 'room 1',
        receivedAt: T + 123,
        readings: [
          { ts: T, temperature: 4.5 },
          { ts: T + 1000, temperature: -3, humidity: 55.5, battery: 90, lat: 31.2, lon: 121.5, door: true, seq: 7 },
        ],
      }),
    ).toBe(
      String.raw`readings,deviceId=dev\ a\,b,locationId=room\ 1,siteId=site\=1 temperature=4.5,receivedAt=1700000000123i 1700000000000000000` +
        '\n' +
        String.raw`readings,deviceId=dev\ a\,b,locationId=room\ 1,siteId=site\=1 temperature=-3,humidity=55.5,battery=90,lat=31.2,lon=121.5,door=true,seq=7i,receivedAt=1700000000123i 1700000001000000000`,
    );
    expect(
      factLine(
        rejectionFact({
          deviceId: '',
          receivedAt: T + 123,
          reason: 'unknown_device',
          message: 'say "hi"\\\nnow',
          topic: 'cc/v1/x/telemetry',
          bytes: 20,
          raw: '{"t":1}',
          index: 2,
        }),
        1_000_001,
      ),
    ).toBe(
      String.raw`rejects,deviceId=(none),reason=unknown_device message="say \"hi\"\\\nnow",topic="cc/v1/x/telemetry",bytes=20i,payload="{\"t\":1}",index=2i,receivedAt=1700000000123i 1700000000123000001`,
    );
    expect(
      factLine(
        deviceMessageFact(
          { deviceId: 'd1', siteId: 's', locationId: 'l' },
          'status',
          { firmware: '1.2', battery: 50 },
          '{"firmware":"1.2","battery":50}',
          T + 999,
        ),
        42,
      ),
    ).toBe(
      String.raw`device_messages,deviceId=d1,locationId=l,siteId=s,channel=status payload="{\"firmware\":\"1.2\",\"battery\":50}",firmware="1.2",battery=50,receivedAt=1700000000999i 1700000000999000042`,
    );
  });

  it('alert and incident events', () => {
    const signed: AlertEvent = {
      alertId: 'al 1',
      event: 'acknowledged',
      at: T + 5,
      actor: 'olga',
      printedName: 'Olga "O"',
      meaning: 'acknowledged',
      comment: 'door\nclosed',
      alert,
    };
    expect(factLine(alertEventFact(signed), 3)).toBe(
      String.raw`alert_events,alertId=al\ 1,deviceId=dev\ 1,event=acknowledged,kind=temperature_high,locationId=room\=1,siteId=dc\,sh state="active",severity="major",actor="olga",occurredAt=1699999400000i,late=false,peak=9.4,threshold=8,alert="${quoted(alert)}",printedName="Olga \"O\"",meaning="acknowledged",comment="door\nclosed" 1700000000005000003`,
    );
    const raised: IncidentEvent = { incidentId: 'inc-1', event: 'raised', at: T, actor: 'system', incident };
    expect(factLine(incidentEventFact(raised), 0)).toBe(
      String.raw`incident_events,event=raised,incidentId=inc-1,locationId=room\=1,siteId=dc\,sh state="active",severity="major",headline="temperature_high",actor="system",occurredAt=1699999400000i,incident="${quoted(incident)}" 1700000000000000000`,
    );
  });
});

describe('fact log against InfluxDB', () => {
  const influx = new InfluxClient({ url: inject('influxUrl'), database: `t_${randomUUID().replace(/-/g, '').slice(0, 12)}` });
  beforeAll(() => influx.ensureDatabase(86_400_000 * 3650));
  afterAll(() => influx.query(`DROP DATABASE "${influx.target.database}"`, { database: null, method: 'POST' }));

  it('appends facts of one millisecond as distinct points and replays them in order, validated by their schema', async () => {
    const spool = new Lines();
    const log = new FactLog(spool, influx);
    const events: AlertEvent[] = [
      { alertId: 'al 1', event: 'activated', at: T, actor: 'system', alert },
      { alertId: 'al 1', event: 'notified', at: T, actor: 'system', channel: 'webhook', recipient: 'dispatch', outcome: 'delivered', alert },
      { alertId: 'al 2', event: 'activated', at: T + 1, actor: 'system', alert: { ...alert, id: 'al 2' } },
    ];
    for (const event of events) await log.append(alertEventFact(event));
    await log.append(incidentEventFact({ incidentId: 'inc-1', event: 'raised', at: T, actor: 'system', incident }));
    await influx.write(`${spool.lines.join('\n')}\n`);

    expect(await loadAlertEvents(influx)).toEqual(events);
    expect(await loadAlertEvents(influx, { alertId: 'al 2' })).toEqual([events[2]]);
    expect(await loadAlertEvents(influx, { sinceMs: T + 1 })).toEqual([events[2]]);
    expect(await loadIncidentEvents(influx, { incidentId: 'inc-1' })).toEqual([{ incidentId: 'inc-1', event: 'raised', at: T, actor: 'system', incident }]);
  });

  it('a fact seen half written (InfluxDB shows a point being written field by field) is read again, not refused', async () => {
    const spool = new Lines();
    const log = new FactLog(spool, influx);
    const event: IncidentEvent = { incidentId: 'inc-half', event: 'acknowledged', at: T + 5, actor: 'olga', incident };
    await log.append(incidentEventFact(event));
    const line = spool.lines[0]!;
    // What a query beside the write can see: the point with its `incident` field not there yet.
    const half = line.replace(/,incident="(?:[^"\\]|\\.)*"/, '');
    expect(half).not.toBe(line);
    await influx.write(`${half}\n`);
    // The rest of the point comes in once the replay has read the half of it.
    let reads = 0;
    const beside = Object.assign(Object.create(Object.getPrototypeOf(influx)), influx) as InfluxClient;
    beside.query = async (...args: Parameters<InfluxClient['query']>) => {
      const answer = await influx.query(...args);
      if (reads++ === 0) await influx.write(`${line}\n`);
      return answer;
    };
    expect(await loadIncidentEvents(beside, { incidentId: 'inc-half' })).toEqual([event]);
    expect(reads).toBe(2);
  });

  it('a fact stored whole as JSON; one that no longer validates is skipped and reported, or makes the replay throw', async () => {
    const note = z.object({ id: z.string(), text: z.string() });
    const fact = (body: unknown, at: number): Fact => ({
      measurement: 'test_notes',
      tags: { kind: 'note' },
      fields: { body: typeof body === 'string' ? body : JSON.stringify(body), n: int(at - T) },
      at,
    });
    const spool = new Lines();
    const log = new FactLog(spool, influx);
    await log.append(fact({ id: 'a', text: 'first' }, T));
    await log.append(fact({ id: 'b' }, T + 1));
    await log.append(fact('{not json', T + 2));
    await log.append(fact({ id: 'c', text: 'last' }, T + 3));
    await influx.write(`${spool.lines.join('\n')}\n`);

    const problems: number[] = [];
    const query = { measurement: 'test_notes', columns: ['body'], whole: 'body', onInvalid: (_problem: string, at: number) => problems.push(at) };
    expect(await log.replay(note, query)).toEqual([
      { id: 'a', text: 'first' },
      { id: 'c', text: 'last' },
    ]);
    expect(problems).toEqual([T + 1, T + 2]);
    await expect(log.replay(note, { measurement: 'test_notes', columns: ['body'], whole: 'body' })).rejects.toThrow();
    await expect(new FactLog(spool).replay(note, query)).rejects.toThrow(/without InfluxDB/);
  });
});
