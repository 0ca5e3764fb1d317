import { describe, expect, it } from 'vitest';
import { readingHours } from '../reports/hour-marks.js';
import { BUCKET_MS } from '../reports/buckets.js';
import { escapeTag } from '../storage/line-protocol.js';

/**
 * The writer's marks read the bytes it sent (reports/hour-marks.ts): the (place, hour) pairs
 * must be those of the readings among them, whatever the place's id holds and however the lines
 * follow one another.
 */
describe('hour marks: the (place, hour) pairs of the bytes the writer sent', () => {
  // Seeded, so a failure can be run again.
  let seed = 42;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  // Ids one of which begins another (room-1, room-10): a line is of the same place only up to its id's end.
  const PLACES = ['dc-sh-cold-room-1', 'dc-sh-cold-room-10', 'truck a,b', 'box=2 ', '冷库 1', 'back\\slash', 'line\nbreak', 'x'];
  const base = Date.UTC(2026, 11, 3, 0, 0, 0);

  it('gives the pairs a line-by-line reading gives, over lines of several places, hours, measurements and none without a time', () => {
    // Each device's own id on every line, or runs of one device (the marks pass over a line that starts as the one before).
    for (let round = 0; round < 40; round++) {
      const runs = round % 2 === 1;
      let device = 0;
      const lines: string[] = [];
      const expected = new Map<string, [string, number]>();
      let place = PLACES[0]!;
      let ms = base;
      for (let i = 0; i < 500; i++) {
        // Runs of one place, as a device's readings lie in the spool; now and then another.
        if (random() < 0.1) place = PLACES[Math.floor(random() * PLACES.length)]!;
        if (!runs || random() < 0.05) device = i;
        ms += Math.floor(random() * 20 * 60_000);
        const kind = random();
        if (kind < 0.05) {
          lines.push(`rejects,deviceId=d-${device},locationId=${escapeTag(place)} reason="schema" ${ms}000000`);
          continue;
        }
        if (kind < 0.08) {
          lines.push(`readings,deviceId=d-${device} temperature=4.2 ${ms}000000`);
          continue;
        }
        lines.push(`readings,deviceId=d-${device},locationId=${escapeTag(place)},siteId=s temperature=4.${i % 10},receivedAt=${ms + 800}i ${ms}123456`);
        const hour = Math.floor(ms / BUCKET_MS) * BUCKET_MS;
        expected.set(`${place}\n${hour}`, [place, hour]);
      }
      const pairs = [...readingHours(Buffer.from(`${lines.join('\n')}\n`))];
      expect(new Map(pairs.map(([p, h]) => [`${p}\n${h}`, [p, h]]))).toEqual(expected);
      expect(pairs.length).toBe(expected.size);
    }
  });

  it('marks the current hour for a reading without a time, and reads a last line with no newline', () => {
    const before = Math.floor(Date.now() / BUCKET_MS) * BUCKET_MS;
    const pairs = [
      ...readingHours(
        Buffer.from(`readings,deviceId=a,locationId=room\\ 1 temperature=4.1\nreadings,deviceId=b,locationId=room-2 temperature=4.1 ${base}000000`),
      ),
    ];
    const after = Math.floor(Date.now() / BUCKET_MS) * BUCKET_MS;
    expect(pairs).toContainEqual(['room-2', base]);
    expect([before, after]).toContain(pairs.find(([p]) => p === 'room 1')?.[1]);
    expect([...readingHours(Buffer.alloc(0))]).toEqual([]);
  });
});
