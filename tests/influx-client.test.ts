import { createServer, request } from 'node:http';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { InfluxClient } from '../storage/influx.js';

/**
 * The client asks for MessagePack (InfluxDB 1.x) and must read JSON just as well (servers that
 * only speak JSON on /query, such as 2.x's v1 compatibility API). A pass-through proxy in front
 * of the real influxd that drops the MessagePack preference stands in for such a server.
 */
describe('InfluxDB client', () => {
  const upstream = new URL(inject('influxUrl'));
  const seen: string[] = [];
  const jsonOnly = createServer((req, res) => {
    const headers = { ...req.headers, accept: 'application/json' };
    const forward = request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers }, (answer) => {
      seen.push(String(answer.headers['content-type']));
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    req.pipe(forward);
  });
  afterAll(() => new Promise<void>((r) => jsonOnly.close(() => r())));

  it('gets the same rows in MessagePack and in JSON, and errors from both', async () => {
    const port = await new Promise<number>((r) => jsonOnly.listen(0, '127.0.0.1', () => r((jsonOnly.address() as { port: number }).port)));
    const direct = new InfluxClient({ url: upstream.origin, database: 'client_formats' });
    const viaJson = new InfluxClient({ url: `http://127.0.0.1:${port}`, database: 'client_formats' });
    await direct.ensureDatabase(86_400_000 * 30);
    const t = Date.now() - 60_000;
    await direct.write(`m,d=a v=1.5,n=7i,s="x",b=true ${t}000000\nm,d=a v=-2.25,n=8i,s="y",b=false ${t + 1000}000000`);
    const query = 'SELECT "v", "n", "s", "b" FROM "m" GROUP BY "d"';
    const [fromMsgpack, fromJson] = await Promise.all([direct.query(query), viaJson.query(query)]);
    expect(fromMsgpack).toEqual(fromJson);
    expect(fromMsgpack[0]).toMatchObject({
      tags: { d: 'a' },
      values: [
        [t, 1.5, 7, 'x', true],
        [t + 1000, -2.25, 8, 'y', false],
      ],
    });
    expect(seen.some((type) => type.startsWith('application/json'))).toBe(true);
    for (const client of [direct, viaJson])
      await expect(client.query('SELECT FROM nothing')).rejects.toThrow(/query failed: .*(error parsing query|found FROM)/);
  });
});
