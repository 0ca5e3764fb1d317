import { spawn } from 'node:child_process';
import { connect, Server, type Socket } from 'node:net';
import path from 'node:path';
import { pino } from 'pino';
import { describe, expect, inject, it } from 'vitest';
import { startService } from '../app/service.js';
import { loadConfig } from '../core/config/load.js';
import { freePort } from '../storage/influxd.js';
import { connectDevice, makeWorkspace, waitFor } from './helpers/workspace.js';

const CLI = path.resolve('dist/cli/main.js');

describe('the broker at the open-files limit', () => {
  it('survives more connections than it may open files, and serves again once they are free', async () => {
    const ws = makeWorkspace({ devices: ['fd-1'] });
    const mqttPort = await freePort();
    // 200 files for the whole process: the spool, the audit trail, the report worker and Node itself
    // take about a hundred (120 left a start near the limit, which failed once in CI).
    const child = spawn(
      'bash',
      [
        '-c',
        `ulimit -n 200 && exec "${process.execPath}" "${CLI}" start --config "${ws.configFile}" --mqtt-port ${mqttPort} --http-port 0 --influx-url "${inject('influxUrl')}" --influx-db ${ws.database}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    child.stderr.on('data', (d: Buffer) => (log += d));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    const sockets: Socket[] = [];
    try {
      await waitFor(async () => log.includes('coldchain service started') || child.exitCode !== null, Boolean, 20_000, 'the service');
      expect(child.exitCode, log.slice(-2000)).toBeNull();
      // More connections than the process may hold files (bounded: 300 loopback sockets).
      for (let i = 0; i < 300; i++) {
        const socket = connect(mqttPort, '127.0.0.1');
        socket.on('error', () => undefined);
        sockets.push(socket);
      }
      // libuv sheds connections it has no descriptor for (accept, then close); the process must survive it.
      // Every socket is settled (connected, or refused/closed) before the check.
      await Promise.all(
        sockets.map((socket) => new Promise<void>((r) => (socket.connecting ? socket.once('connect', () => r()).once('close', () => r()) : r()))),
      );
      expect(child.exitCode, log.slice(-2000)).toBeNull();
      for (const s of sockets) s.destroy();
      // Still alive, and a device gets in once descriptors are free.
      expect(child.exitCode).toBeNull();
      const device = await waitFor(
        () => connectDevice(mqttPort, 'fd-1', ws.deviceTokens['fd-1']!).catch(() => undefined),
        Boolean,
        10_000,
        'a device connection',
      );
      await device!.endAsync();
    } finally {
      for (const s of sockets) s.destroy();
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('logs a listener error raised after it started listening, instead of throwing it out of the process', async () => {
    const ws = makeWorkspace({ devices: ['fd-2'] });
    const logLines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void logLines.push(line) });
    const service = await startService(loadConfig(ws.configFile), { mqttPort: 0, httpPort: 0, influxUrl: inject('influxUrl'), influxDb: ws.database }, log);
    try {
      // libuv absorbs most EMFILEs on accept itself; the ones it cannot (its reserve descriptor
      // lost to a thread-pool open) reach the server as this 'error'. The listener itself is
      // not exposed, so it is found among the process's handles by its port.
      const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
      const listener = handles.find((h): h is Server => h instanceof Server && (h.address() as { port?: number } | null)?.port === service.mqttPort);
      expect(listener).toBeDefined();
      const emfile = Object.assign(new Error('accept EMFILE'), { code: 'EMFILE', errno: -24, syscall: 'accept' });
      expect(() => listener!.emit('error', emfile)).not.toThrow();
      const logged = logLines
        .map((l) => JSON.parse(l) as { msg: string; listener?: string; code?: string })
        .find((l) => l.msg === 'mqtt listener error; still listening');
      expect(logged).toMatchObject({ listener: 'mqtt.port', code: 'EMFILE' });
      expect(listener!.listening).toBe(true);
      const device = await connectDevice(service.mqttPort!, 'fd-2', ws.deviceTokens['fd-2']!);
      await device.endAsync();
    } finally {
      await service.stop();
    }
  });
});
