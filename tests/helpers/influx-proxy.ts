import { createServer, request, STATUS_CODES, type Server } from 'node:http';
import { inject } from 'vitest';

/**
 * A pass-through node:http proxy in front of the real influxd, standing in for what sits between a
 * service and its InfluxDB in production (nginx with a body limit, a load balancer), on `port`
 * (by default any free one). `refuse` may answer a request itself, with a status and an HTML page
 * as nginx does; `writes` holds the body size of every /write the proxy saw.
 */
export function influxProxy(
  options: { port?: number; refuse?: (body: Buffer, url: string) => number | undefined } = {},
): Promise<{ url: string; server: Server; writes: number[] }> {
  const upstream = new URL(inject('influxUrl'));
  const writes: number[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.url?.startsWith('/write')) writes.push(body.length);
      const status = options.refuse?.(body, req.url ?? '');
      if (status)
        return void res.writeHead(status, { 'Content-Type': 'text/html' }).end(`<html><body><h1>${status} ${STATUS_CODES[status]}</h1></body></html>`);
      const forward = request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      forward.end(body);
    });
  });
  return new Promise((resolve) =>
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server, writes })),
  );
}
