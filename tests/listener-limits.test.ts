import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { freePort } from '../storage/influxd.js';
import { connectDevice, makeWorkspace, waitFor } from './helpers/workspace.js';

const CLI = path.resolve('dist/cli/main.js');

describe('the broker at the open-files limit', () => {
  it('survives more connections than it may open files, and serves again once they are free', async () => {
    const ws = makeWorkspace({ devices: ['fd-1'] });
    const mqttPort = await freePort();
    // 120 files for the whole process: the spool, the audit trail and Node itself take some.
    const child = spawn('bash', ['-c', `ulimit -n 120 && exec "${process.execPath}" "${CLI}" start --config "${ws.configFile}" --mqtt-port ${mqttPort} --http-port 0 --influx-url "${inject('influxUrl')}" --influx-db ${ws.database}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr.on('data', (d: Buffer) => (log += d));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    const sockets: Socket[] = [];
    try {
      await waitFor(async () => log.includes('coldchain service started'), Boolean, 20_000, 'the service');
      // More connections than the process may hold files (bounded: 200 loopback sockets).
      for (let i = 0; i < 200; i++) {
        const socket = connect(mqttPort, '127.0.0.1');
        socket.on('error', () => undefined);
        sockets.push(socket);
      }
      // libuv sheds connections it has no descriptor for (accept, then close); the process must survive it.
      await new Promise((r) => setTimeout(r, 1000));
      expect(child.exitCode, log.slice(-2000)).toBeNull();
      for (const s of sockets) s.destroy();
      // Still alive, and a device gets in once descriptors are free.
      expect(child.exitCode).toBeNull();
      const device = await waitFor(() => connectDevice(mqttPort, 'fd-1', ws.deviceTokens['fd-1']!).catch(() => undefined), Boolean, 10_000, 'a device connection');
      await device!.endAsync();
    } finally {
      for (const s of sockets) s.destroy();
      child.kill('SIGTERM');
      await exited;
    }
  });
});
