import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { Aedes, Client } from 'aedes';
import type { Logger } from '../core/logger.js';
import type { Config } from '../core/config/schema.js';
import { Qos2Window } from './qos2.js';

interface PacketParser {
  parse(buf: Buffer): number;
  packet: { length: number };
}

/**
 * aedes has no packet size limit, and mqtt-packet buffers a packet whole before handing it on.
 * After each socket read we look at the length the current packet header declared and close the
 * connection before a huge packet is accumulated in memory.
 */
function limitPacketSize(client: Client, maxBytes: number, log: Logger): void {
  const parser = (client as unknown as { _parser: PacketParser })._parser;
  const parse = parser.parse.bind(parser);
  parser.parse = (buf: Buffer) => {
    const remaining = parse(buf);
    if (parser.packet.length > maxBytes) {
      log.warn({ clientId: client.id, declaredBytes: parser.packet.length, maxBytes }, 'mqtt packet over mqtt.maxPacketBytes; closing the connection');
      client.conn.destroy();
    }
    return remaining;
  };
}

export interface Listeners {
  mqttPort: number;
  mqttsPort?: number;
  wsPort?: number;
  close(): Promise<void>;
}

function listen(server: TcpServer | HttpServer, port: number, host: string, what: string, log: Logger): Promise<number> {
  return new Promise((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          `${what}: cannot listen on ${host}:${port} (${err.code === 'EADDRINUSE' ? 'port already in use' : (err.code ?? err.message)}); pick another port or 0 for a free one`,
        ),
      );
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      // A server error while running (EMFILE at the open-files cap, say) is logged; with no
      // listener Node would throw it and take every connected device down with the process.
      server.on('error', (err: NodeJS.ErrnoException) =>
        log.error({ listener: what, code: err.code, err: err.message }, 'mqtt listener error; still listening'),
      );
      resolve((server.address() as { port: number }).port);
    });
  });
}

export async function startListeners(aedes: Aedes, mqtt: Config['mqtt'], log: Logger): Promise<Listeners> {
  // Resource guards of what clients may make the broker hold: packet size (below) and QoS 2 state.
  Qos2Window.install(aedes, mqtt.qos2InFlight, log);
  const accept = (socket: Socket) => {
    socket.setNoDelay(true);
    limitPacketSize(aedes.handle(socket), mqtt.maxPacketBytes, log);
  };
  const servers: Array<TcpServer | HttpServer> = [];

  const tcp = createTcpServer(accept);
  servers.push(tcp);
  const mqttPort = await listen(tcp, mqtt.port, mqtt.host, 'mqtt.port', log);

  let mqttsPort: number | undefined;
  if (mqtt.tls) {
    const read = (key: 'cert' | 'key' | 'ca', file: string) => {
      try {
        return readFileSync(file);
      } catch (err) {
        throw new Error(`mqtt.tls.${key}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
    };
    const tls = createTlsServer(
      { cert: read('cert', mqtt.tls.cert), key: read('key', mqtt.tls.key), ...(mqtt.tls.ca ? { ca: read('ca', mqtt.tls.ca) } : {}) },
      accept,
    );
    servers.push(tls);
    mqttsPort = await listen(tls, mqtt.tls.port, mqtt.host, 'mqtt.tls.port', log);
  }

  let wsPort: number | undefined;
  let wss: WebSocketServer | undefined;
  if (mqtt.websocket) {
    const http = createHttpServer((_req, res) => res.writeHead(426, { 'Content-Type': 'text/plain' }).end('MQTT over WebSocket only\n'));
    wss = new WebSocketServer({ server: http, path: mqtt.websocket.path, maxPayload: mqtt.maxPacketBytes });
    wss.on('connection', (ws, req) => {
      const stream = createWebSocketStream(ws);
      limitPacketSize(aedes.handle(stream, req), mqtt.maxPacketBytes, log);
    });
    servers.push(http);
    wsPort = await listen(http, mqtt.websocket.port, mqtt.host, 'mqtt.websocket.port', log);
  }

  log.info({ mqttPort, mqttsPort, wsPort, host: mqtt.host }, 'mqtt listeners ready');
  return {
    mqttPort,
    mqttsPort,
    wsPort,
    /** Stops accepting at once; resolves when every connection is gone (close the broker meanwhile). */
    async close() {
      wss?.close();
      await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    },
  };
}
