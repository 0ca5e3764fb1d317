import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { ShipmentReport } from '../reports/schema.js';
import { epcisDocumentSchema, type EpcisDocument, type ObjectEvent } from '../epcis/schema.js';
import { influxFor, readingsStored, run, serviceSuite, waybill } from './helpers/workspace.js';

const MIN = 60_000;
// ajv-formats is CommonJS: its plugin is the module's default export.
const addFormats = (addFormatsModule as unknown as { default: (ajv: Ajv) => Ajv }).default;

/** GS1's published EPCIS 2.0 JSON schema (draft-07), vendored with its source in tests/fixtures/epcis/README.md. */
function gs1Validator() {
  const schema = JSON.parse(readFileSync(path.resolve('tests/fixtures/epcis/EPCIS-JSON-Schema.json'), 'utf8'));
  const ajv = new Ajv({ allErrors: true });
  addFormats(ajv);
  return ajv.compile(schema);
}

/**
 * The EPCIS 2.0 export against the real service (real influxd, real broker): a batch stored in the
 * cold room, shipped on the reefer truck (a 20-minute excursion to 10 °C), unloaded into the
 * hospital fridge (a wrong unloading time corrected), delivered and quarantined by QA. The
 * document must pass GS1's JSON schema and carry exactly the shipment report's figures.
 */
describe('EPCIS 2.0 export of a shipment', () => {
  const suite = serviceSuite(() => ({
    devices: [
      { id: 'room-a', location: 'dc-sh-cold-room-1' },
      { id: 'truck-a', location: 'truck-hu-a12345-box' },
      { id: 'fridge-a', location: 'hospital-pudong-fridge' },
    ],
    users: ['quinn'],
  }));
  const { api, devices } = suite;
  const T0 = Math.floor((Date.now() - 4 * 3_600_000) / (30 * MIN)) * 30 * MIN;
  const at = (minute: number) => T0 + minute * MIN;
  const iso = (minute: number) => new Date(at(minute)).toISOString();
  const id = 'SH-EPCIS-1';
  let wrongUnloading = '';

  const publish = async (deviceId: string, from: number, to: number, temperatureAt: (minute: number) => number) => {
    const readings = Array.from({ length: to - from }, (_, i) => from + i).map((m) => ({
      ts: at(m),
      temperature: temperatureAt(m),
      humidity: 50 + (m % 7),
      seq: m,
    }));
    await devices.send(deviceId, readings);
  };
  const wobble = (m: number) => Math.round((5 + 0.4 * Math.sin(m / 5)) * 100) / 100;

  beforeAll(async () => {
    await Promise.all([
      publish('room-a', 0, 60, wobble),
      publish('truck-a', 60, 150, (m) => (m >= 90 && m < 110 ? 10 : wobble(m))),
      publish('fridge-a', 150, 180, wobble),
    ]);
    const influx = influxFor(suite.ws);
    for (const [device, count] of [
      ['room-a', 60],
      ['truck-a', 90],
      ['fridge-a', 30],
    ] as const)
      await readingsStored(influx, device, (n) => n === count, `${device} readings`);

    const created = await api('POST', '/api/v1/shipments', waybill(id, { batch: 'LOT-2026-118', quantity: 40, unit: 'cases' }));
    expect(created.status).toBe(201);
    const custody = async (body: Record<string, unknown>) => {
      const answer = await api('POST', `/api/v1/shipments/${id}/custody`, body);
      expect(answer.status).toBe(201);
      return answer.body.custody.id as string;
    };
    await custody({ event: 'stored', locationId: 'dc-sh-cold-room-1', at: iso(0), by: 'Wang Wei' });
    await custody({ event: 'loaded', locationId: 'truck-hu-a12345-box', at: iso(60), by: 'Li Na' });
    wrongUnloading = await custody({ event: 'unloaded', locationId: 'hospital-pudong-fridge', at: iso(140), by: 'Zhao Min' });
    await custody({ event: 'unloaded', locationId: 'hospital-pudong-fridge', at: iso(150), by: 'Zhao Min', corrects: wrongUnloading, note: 'time misread' });
    await custody({ event: 'delivered', at: iso(180), by: 'Zhao Min' });
    const disposed = await api('POST', `/api/v1/shipments/${id}/disposition`, {
      decision: 'quarantined',
      user: 'quinn',
      password: 'quinn-password-1',
      meaning: 'QA disposition after review',
      comment: 'excursion on the truck: hold until the stability data is checked',
    });
    expect(disposed.status).toBe(201);
  });

  const exported = async (token?: string) => {
    const answer = await api('GET', `/api/v1/shipments/${id}/epcis?tz=Asia/Shanghai`, undefined, token ?? suite.ws.apiTokens.admin!);
    expect(answer.status).toBe(200);
    expect(answer.type).toBe('application/ld+json; charset=utf-8');
    return answer.body as EpcisDocument;
  };
  const report = async () => {
    const answer = await api('GET', `/api/v1/shipments/${id}/report`);
    expect(answer.status).toBe(200);
    return answer.body as ShipmentReport;
  };
  const step = (doc: EpcisDocument, bizStep: ObjectEvent['bizStep'], current = true) =>
    doc.epcisBody.eventList.filter((e) => e.bizStep === bizStep && !e.errorDeclaration === current);

  it('exports a document that passes GS1 EPCIS 2.0 JSON schema with no error, and our own schema', async () => {
    const doc = await exported();
    const validate = gs1Validator();
    const valid = validate(doc);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
    expect(epcisDocumentSchema.parse(doc)).toEqual(doc);
    expect(doc['@context'][0]).toBe('https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld');
    expect(doc).toMatchObject({ type: 'EPCISDocument', schemaVersion: '2.0' });

    // A document that breaks the standard is caught by the same validator (the check can fail).
    const broken = structuredClone(doc) as any;
    broken.epcisBody.eventList[0].sensorElementList[0].sensorReport[0].type = 'temperature (°C)';
    broken.epcisBody.eventList[0].quantityList[0].uom = 'cases';
    delete broken.epcisBody.eventList[1].eventTimeZoneOffset;
    expect(validate(broken)).toBe(false);
    expect(validate.errors!.map((e) => e.instancePath)).toEqual(
      expect.arrayContaining([
        '/epcisBody/eventList/0/sensorElementList/0/sensorReport/0/type',
        '/epcisBody/eventList/0/quantityList/0/uom',
        '/epcisBody/eventList/1',
      ]),
    );
  });

  it('has one ObjectEvent per custody event with CBV steps, places and goods', async () => {
    const doc = await exported();
    const events = doc.epcisBody.eventList;
    expect(events.map((e) => [e.bizStep, e.disposition, e.eventTime, !!e.errorDeclaration])).toEqual([
      ['storing', 'in_progress', iso(0), false],
      ['shipping', 'in_transit', iso(60), false],
      ['unloading', 'in_progress', iso(140), true],
      ['unloading', 'in_progress', iso(150), false],
      ['receiving', 'in_progress', iso(180), false],
      ['holding', 'non_sellable_other', expect.any(String), false],
    ]);
    for (const e of events) {
      expect(e).toMatchObject({ type: 'ObjectEvent', action: 'OBSERVE', eventTimeZoneOffset: '+08:00' });
      expect(e.quantityList).toEqual([{ epcClass: `${suite.base}/epcis/id/lot/Influenza%20vaccine%200.5%20ml/LOT-2026-118/cases`, quantity: 40 }]);
      expect(e.bizTransactionList).toEqual([{ type: 'bol', bizTransaction: `${suite.base}/epcis/id/waybill/${id}` }]);
      expect(e.sourceList).toEqual([{ type: 'owning_party', source: `${suite.base}/epcis/id/party/Shanghai%20DC` }]);
    }
    const [storing, shipping, wrong, unloading, receiving] = events;
    expect(storing).toMatchObject({
      readPoint: { id: `${suite.base}/epcis/id/location/dc-sh-cold-room-1` },
      bizLocation: { id: `${suite.base}/epcis/id/site/dc-shanghai` },
    });
    // In transit: a read point (the truck's cargo box) but no business location.
    expect(shipping!.readPoint).toEqual({ id: `${suite.base}/epcis/id/location/truck-hu-a12345-box` });
    expect(shipping).not.toHaveProperty('bizLocation');
    // The corrected unloading stays on record, declared wrong, naming its correction.
    expect(wrong!.errorDeclaration).toMatchObject({ reason: 'incorrect_data', correctiveEventIDs: [unloading!.eventID] });
    expect(wrong).not.toHaveProperty('sensorElementList');
    // Delivered without a place: handed over where the goods were.
    expect(receiving!.readPoint).toEqual({ id: `${suite.base}/epcis/id/location/hospital-pudong-fridge` });
    expect(new Set(events.map((e) => e.eventID)).size).toBe(events.length);
    // Event ids are the same in every export.
    expect((await exported()).epcisBody.eventList.map((e) => e.eventID)).toEqual(events.map((e) => e.eventID));
  });

  it("carries each leg's min/max/mean exactly as the shipment report has them", async () => {
    const [doc, rep] = await Promise.all([exported(), report()]);
    expect(rep.segments.map((s) => s.place.locationId)).toEqual(['dc-sh-cold-room-1', 'truck-hu-a12345-box', 'hospital-pudong-fridge']);
    const legs = [step(doc, 'storing')[0]!, step(doc, 'shipping')[0]!, step(doc, 'unloading')[0]!];
    rep.segments.forEach((segment, i) => {
      const leg = legs[i]!.sensorElementList![0]!;
      const f = segment.figures;
      expect(leg.sensorMetadata).toEqual({
        deviceID: `${suite.base}/epcis/id/device/${segment.sensors[0]!.deviceId}`,
        startTime: new Date(segment.start).toISOString(),
        endTime: new Date(segment.end).toISOString(),
      });
      expect(leg.sensorReport).toEqual([
        { type: 'gs1:Temperature', uom: 'CEL', minValue: f.min!.value, maxValue: f.max!.value, meanValue: f.mean },
        { type: 'gs1:RelativeHumidity', uom: 'P1', minValue: f.humidity!.min!.value, maxValue: f.humidity!.max!.value, meanValue: f.humidity!.mean },
      ]);
    });
    // The figures are the readings' own, not something else equal by chance.
    expect(legs[1]!.sensorElementList![0]!.sensorReport[0]).toMatchObject({ maxValue: 10 });
    expect(legs[0]!.sensorElementList![0]!.sensorReport[0]!.maxValue).toBeLessThan(5.5);
    expect(legs[2]!.sensorElementList![0]!.sensorReport[1]).toMatchObject({ minValue: 50, maxValue: 56 });
    // After delivery and on the QA decision there is no leg, so no sensor data.
    expect(step(doc, 'receiving')[0]).not.toHaveProperty('sensorElementList');
    expect(step(doc, 'holding')[0]).not.toHaveProperty('sensorElementList');
  });

  it('reports the excursion as an ALARM_CONDITION with the report’s peak, limit and duration', async () => {
    const [doc, rep] = await Promise.all([exported(), report()]);
    const excursion = rep.segments[1]!.figures.excursions;
    expect(excursion).toHaveLength(1);
    const x = excursion[0]!;
    const alarms = doc.epcisBody.eventList.flatMap((e) =>
      (e.sensorElementList ?? []).filter((s) => s.sensorReport.some((r) => r.exception)).map((s) => ({ bizStep: e.bizStep, s })),
    );
    expect(alarms).toHaveLength(1);
    expect(alarms[0]!.bizStep).toBe('shipping');
    expect(alarms[0]!.s).toEqual({
      sensorMetadata: { deviceID: `${suite.base}/epcis/id/device/truck-a`, startTime: new Date(x.start).toISOString(), endTime: new Date(x.end).toISOString() },
      sensorReport: [
        {
          type: 'gs1:Temperature',
          exception: 'ALARM_CONDITION',
          uom: 'CEL',
          bizRules: `${suite.base}/epcis/id/profile/vaccines-2-8`,
          time: new Date(x.peakAt).toISOString(),
          value: 10,
          'coldchain:limit': 8,
          'coldchain:durationMs': x.durationMs,
          'coldchain:degreeMinutes': x.degreeMinutes,
          'coldchain:ongoing': false,
        },
      ],
    });
    expect(x).toMatchObject({ start: at(90), end: at(110), durationMs: 20 * MIN });
  });

  it('is open to every role that reads the shipment report; 401 without a valid token; 404 naming an unknown shipment', async () => {
    expect((await exported(suite.ws.apiTokens.viewer)).epcisBody.eventList).toHaveLength(6);
    const none = await api('GET', `/api/v1/shipments/${id}/epcis`, undefined, null);
    expect(none.status).toBe(401);
    expect(none.body.message).toContain('Authorization: Bearer');
    const unknown = await api('GET', `/api/v1/shipments/${id}/epcis`, undefined, 'api_not-a-token');
    expect(unknown).toMatchObject({ status: 401, body: { error: 'unauthorized', message: 'unknown or revoked API token' } });
    const missing = await api('GET', '/api/v1/shipments/SH-NOPE/epcis');
    expect(missing).toMatchObject({ status: 404, body: { error: 'not_found', message: 'no shipment SH-NOPE' } });
    const badZone = await api('GET', `/api/v1/shipments/${id}/epcis?tz=Mars/Olympus`);
    expect(badZone.status).toBe(400);
    expect(badZone.body.message).toContain('query.tz: must be an IANA time zone');
  });

  it('coldchain report epcis writes the same document (token from a file)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cc-epcis-'));
    const tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, `${suite.ws.apiTokens.viewer}\n`, { mode: 0o600 });
    const out = path.join(dir, `${id}.jsonld`);
    const cli = await run(
      process.execPath,
      [path.resolve('dist/cli/main.js'), 'report', 'epcis', id, '--tz', 'Asia/Shanghai', '--out', out, '--url', suite.base, '--token-file', tokenFile],
      undefined,
      30_000,
    );
    expect(cli.stderr).toContain(`wrote ${out}: EPCIS 2.0 document of shipment ${id}, 6 event(s)`);
    expect(cli.code).toBe(0);
    const written = JSON.parse(readFileSync(out, 'utf8')) as EpcisDocument;
    const served = await exported();
    // The same document but for when it was made.
    expect({ ...written, creationDate: served.creationDate }).toEqual(served);
    expect(gs1Validator()(written)).toBe(true);
    const missing = await run(process.execPath, [
      path.resolve('dist/cli/main.js'),
      'report',
      'epcis',
      'SH-NOPE',
      '--url',
      suite.base,
      '--token-file',
      tokenFile,
    ]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('404: no shipment SH-NOPE');
  });
});
