import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { isMap, isSeq } from 'yaml';
import { appendToList, editConfig } from '../core/config/edit.js';
import type { Config } from '../core/config/schema.js';
import { formatDuration } from '../core/duration.js';
import { generateToken, hashToken, tokenMatches } from '../core/secrets.js';

/** Device tokens of simulated devices, kept beside the data (the config holds only hashes). */
export const tokensFile = (dataDir: string) => path.join(dataDir, 'simulator-tokens.json');

export function readTokens(dataDir: string): Map<string, string> {
  const file = tokensFile(dataDir);
  if (!existsSync(file)) return new Map();
  return new Map(Object.entries(JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>));
}

function writeTokens(dataDir: string, tokens: Map<string, string>): void {
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(tokensFile(dataDir), `${JSON.stringify(Object.fromEntries(tokens), null, 2)}\n`, { mode: 0o600 });
}

export interface ProvisionOutcome {
  registered: string[];
  reissued: string[];
  tokens: Map<string, string>;
}

/** "Cold room 1 sensor A (simulated)": people read alarms by place and sensor, not by id. */
function simulatedName(config: Config, devices: Array<{ id: string; location: string }>, device: { id: string; location: string }): string {
  const place = config.sites.flatMap((s) => s.locations).find((l) => l.id === device.location);
  const peers = devices.filter((d) => d.location === device.location);
  const letter = peers.length > 26 ? String(peers.indexOf(device) + 1) : String.fromCharCode(65 + peers.indexOf(device));
  return `${place?.name ?? device.location} sensor ${letter} (simulated)`;
}

/**
 * A demo certificate for a simulated sensor, so the demo has calibration on file (coldchain check
 * passes, reports show a certificate, no calibration alarm): calibrated 200 days ago, due in 165,
 * errors well within GSP. The laboratory's name says it is not a real certificate.
 */
export function simulatedCalibration(deviceId: string, now = Date.now()) {
  const day = (offsetDays: number) => new Date(now + offsetDays * 86_400_000).toISOString().slice(0, 10);
  return {
    model: 'Simulated probe',
    serial: deviceId,
    accuracy: { temperature: 0.3, humidity: 3 },
    certificates: [
      {
        number: `SIM-${deviceId}`,
        laboratory: 'Simulated calibration (demo only, not a real certificate)',
        calibratedAt: day(-200),
        dueAt: day(165),
        points: [
          { quantity: 'temperature', reference: -20, reading: -20.2 },
          { quantity: 'temperature', reference: 5, reading: 5.1 },
          { quantity: 'temperature', reference: 25, reading: 25.1 },
          { quantity: 'humidity', reference: 75, reading: 76.2 },
        ],
      },
    ],
  };
}

/**
 * Registers the scenario's devices (or gives those whose token we do not hold a new one), so a
 * newcomer needs no manual step. Returns the tokens of every scenario device.
 */
export function provisionDevices(configFile: string, dataDir: string, devices: Array<{ id: string; location: string; interval: number }>): ProvisionOutcome {
  const tokens = readTokens(dataDir);
  const registered: string[] = [];
  const reissued: string[] = [];
  editConfig(configFile, (doc, current: Config) => {
    const existing = new Map(current.devices.map((d, i) => [d.id, { device: d, index: i }]));
    const list = doc.get('devices');
    for (const device of devices) {
      const known = existing.get(device.id);
      const token = tokens.get(device.id);
      // A simulated sensor registered before calibration records existed gets its demo certificate too.
      const knownNode = known && isSeq(list) ? list.items[known.index] : undefined;
      if (known && !known.device.calibration && isMap(knownNode)) knownNode.set('calibration', doc.createNode(simulatedCalibration(device.id)));
      if (known && token && tokenMatches(token, known.device.tokenHash)) continue;
      const fresh = generateToken('dev');
      tokens.set(device.id, fresh);
      if (known && isSeq(list)) {
        const node = list.items[known.index];
        if (isMap(node)) node.set('tokenHash', hashToken(fresh));
        reissued.push(device.id);
      } else {
        appendToList(doc, 'devices', {
          id: device.id,
          location: device.location,
          interval: formatDuration(device.interval),
          name: simulatedName(current, devices, device),
          tokenHash: hashToken(fresh),
          calibration: simulatedCalibration(device.id),
        });
        registered.push(device.id);
      }
    }
  });
  writeTokens(dataDir, tokens);
  return { registered, reissued, tokens };
}
