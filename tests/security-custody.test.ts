import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../app/service.js';
import {
  apiCaller,
  connectDevice,
  influxFor,
  makeWorkspace,
  rejectsStored,
  startTestService,
  unlimitedRate,
  waitFor,
  type Workspace,
} from './helpers/workspace.js';

const OTHER_TRUCK = `  - id: truck-other
    name: Other reefer truck
    kind: vehicle
    vehicleType: refrigerated truck
    locations:
      - { id: truck-other-box, name: Other cargo box, kind: vehicle_compartment, profile: vaccines-2-8, volumeM3: 20 }
`;

describe('custody from devices: only a vehicle device, for its own vehicle, inside the ingest window, never corrects/by', () => {
  let ws: Workspace;
  let service: RunningService;
  let base: string;
  const api = apiCaller(
    () => base,
    () => ws.apiTokens.admin!,
  );

  beforeAll(async () => {
    ws = makeWorkspace({
      devices: [
        { id: 'room-x', location: 'dc-sh-cold-room-1' },
        { id: 'truck-x', location: 'truck-hu-a12345-box' },
        { id: 'truck-z', location: 'truck-other-box' },
      ],
      yamlPatch: (y) => unlimitedRate(y).replace('  # A receiver that monitors its own store', `${OTHER_TRUCK}  # A receiver that monitors its own store`),
    });
    service = await startTestService(ws);
    base = `http://127.0.0.1:${service.httpPort}`;
  });
  afterAll(async () => {
    await service?.stop();
  });

  it('refuses forged custody with a precise reason, tells the device on its downlink, and keeps the chain as the truck really reported it', async () => {
    const now = Date.now();
    expect(
      (
        await api('POST', '/api/v1/shipments', {
          id: 'SH-SEC',
          product: 'Vaccine',
          profile: 'vaccines-2-8',
          batch: 'L1',
          quantity: 1,
          shipper: 'DC',
          consignee: 'Hospital',
        })
      ).status,
    ).toBe(201);
    expect((await api('POST', '/api/v1/shipments/SH-SEC/custody', { event: 'stored', locationId: 'dc-sh-cold-room-1', at: now - 3 * 3_600_000 })).status).toBe(
      201,
    );

    const room = await connectDevice(service.mqttPort!, 'room-x', ws.deviceTokens['room-x']!);
    const truck = await connectDevice(service.mqttPort!, 'truck-x', ws.deviceTokens['truck-x']!);
    const other = await connectDevice(service.mqttPort!, 'truck-z', ws.deviceTokens['truck-z']!);
    const downlink: string[] = [];
    await other.subscribeAsync('cc/v1/truck-z/downlink/#', { qos: 1 });
    other.on('message', (_t, payload) => downlink.push(payload.toString()));
    const send = (client: typeof room, id: string, body: unknown) => client.publishAsync(`cc/v1/${id}/custody`, JSON.stringify(body), { qos: 1 });

    // The attack from the issue: a cold-room sensor marks the shipment delivered.
    await send(room, 'room-x', { shipmentId: 'SH-SEC', event: 'delivered' });
    // Another truck claims goods it does not carry, or loads them into someone else's truck.
    await send(other, 'truck-z', { shipmentId: 'SH-SEC', event: 'delivered' });
    await send(other, 'truck-z', { shipmentId: 'SH-SEC', event: 'loaded', locationId: 'truck-hu-a12345-box' });
    // The right truck, but back to 1970, in the future, correcting an event, or naming a person.
    await send(truck, 'truck-x', { shipmentId: 'SH-SEC', event: 'loaded', at: 0 });
    await send(truck, 'truck-x', { shipmentId: 'SH-SEC', event: 'loaded', at: now + 3_600_000 });
    await send(truck, 'truck-x', { shipmentId: 'SH-SEC', event: 'loaded', at: now - 3_600_000, corrects: 'SH-SEC-C1' });
    await send(truck, 'truck-x', { shipmentId: 'SH-SEC', event: 'loaded', at: now - 3_600_000, by: 'Chief Inspector' });
    // What a driver's device may do: load into its own compartment, unload at the receiver.
    await send(truck, 'truck-x', { shipmentId: 'SH-SEC', event: 'loaded', at: now - 2 * 3_600_000 });
    await send(truck, 'truck-x', { shipmentId: 'SH-SEC', event: 'unloaded', locationId: 'hospital-pudong-fridge', at: now - 3_600_000 });
    // Once the goods are off the truck, even that truck may not deliver them.
    await send(truck, 'truck-x', { shipmentId: 'SH-SEC', event: 'delivered', at: now - 1_800_000 });

    const { body } = await api('GET', '/api/v1/shipments/SH-SEC');
    expect(
      body.shipment.custody.map((c: { event: string; locationId?: string; by: string; source: string }) => [c.event, c.locationId, c.by, c.source]),
    ).toEqual([
      ['stored', 'dc-sh-cold-room-1', 'test-admin', 'api'],
      ['loaded', 'truck-hu-a12345-box', 'truck-x', 'mqtt'],
      ['unloaded', 'hospital-pudong-fridge', 'truck-x', 'mqtt'],
    ]);

    const influx = influxFor(ws);
    const roomRejects = await rejectsStored(influx, 'room-x', (r) => r.length === 1, "room-x's refused custody", 15_000);
    expect(roomRejects[0]).toMatchObject({
      reason: 'custody_not_allowed',
      message: 'custody events come only from devices in a vehicle compartment; room-x is in dc-sh-cold-room-1 (cold_room)',
    });
    const otherRejects = await rejectsStored(influx, 'truck-z', (r) => r.length === 2, "truck-z's refused custody", 15_000);
    expect(otherRejects.map((r) => r.message).sort()).toEqual([
      expect.stringMatching(
        /^a device may load goods only into its own vehicle truck-other \(truck-other-box\); truck-hu-a12345-box is not one of its compartments$/,
      ),
      expect.stringMatching(/^a device may report "delivered" only for goods in its own vehicle truck-other; at .* shipment SH-SEC is in dc-sh-cold-room-1$/),
    ]);
    const truckRejects = await rejectsStored(influx, 'truck-x', (r) => r.length === 5, "truck-x's refused custody", 15_000);
    expect(truckRejects.every((r) => r.reason === 'custody_not_allowed')).toBe(true);
    expect(truckRejects.map((r) => r.message)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^at: 1970-01-01T00:00:00.000Z is older than the accepted backlog of 30 days \(ingest.maxPastAge\)$/),
        expect.stringMatching(/^at: .* is 3600 s ahead of server time \(allowed skew 300 s\)$/),
        'a device may not send "corrects": corrections are made by people, through the API or the CLI',
        'a device may not send "by": its events are recorded as by truck-x',
        expect.stringMatching(
          /^a device may report "delivered" only for goods in its own vehicle truck-hu-a12345; at .* shipment SH-SEC is in hospital-pudong-fridge$/,
        ),
      ]),
    );
    // The device is told why, on its own downlink, as for telemetry.
    await waitFor(
      async () => downlink.filter((m) => m.includes('custody_not_allowed')),
      (m) => m.length === 2,
      10_000,
      "truck-z's downlink explanations",
    );
    for (const c of [room, truck, other]) {
      expect(c.connected).toBe(true);
      await c.endAsync();
    }
  });
});
