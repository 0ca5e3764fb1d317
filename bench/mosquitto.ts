import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, findExecutable } from '../storage/influxd.js';
import { own } from './children.js';

/** A real Mosquitto on a free loopback port, anonymous access, persistence in a temp dir. */
export async function startMosquitto(): Promise<{ port: number; pid: () => number | undefined; stop(): Promise<void>; restart(): Promise<void> }> {
  const binary = findExecutable('mosquitto');
  if (!binary) throw new Error('mosquitto not found: apt-get install mosquitto (npm test installs it when run as root)');
  const dir = mkdtempSync(path.join(tmpdir(), 'cc-mosquitto-'));
  const port = await freePort();
  const conf = path.join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence true',
      `persistence_location ${dir}/`,
      'max_queued_messages 1000000',
      'max_inflight_messages 0',
      'max_connections -1',
      'log_dest none',
      '',
    ].join('\n'),
  );
  let child: ChildProcess;
  const launch = async () => {
    child = own(spawn(binary, ['-c', conf], { stdio: 'ignore' }));
    for (let i = 0; i < 100; i++) {
      const ok = await new Promise<boolean>((resolve) => {
        const socket = connect(port, '127.0.0.1');
        socket.once('connect', () => (socket.destroy(), resolve(true)));
        socket.once('error', () => resolve(false));
      });
      if (ok) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`mosquitto did not listen on ${port}`);
  };
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  await launch();
  return { port, pid: () => child.pid, stop, restart: async () => (await stop(), await launch()) };
}
