import { spawn, type ChildProcess } from 'node:child_process';
import { own } from './children.js';

/**
 * `coldchain simulate --scenario load` in a process of its own, as an operator runs it: `devices`
 * devices at a paced `rate` readings/s for `seconds`, against `broker`. stderr is piped; stdout too
 * when the caller reads the summary it prints (`output`).
 */
export function spawnLoadScenario(options: {
  cli: string;
  configFile: string;
  devices: number;
  rate: number;
  seconds: number;
  broker: string;
  /** Register the devices first (`--provision`). */
  provision?: boolean;
  output?: boolean;
}): ChildProcess {
  const { cli, configFile, devices, rate, seconds, broker } = options;
  return own(
    spawn(
      process.execPath,
      [
        cli,
        'simulate',
        '--config',
        configFile,
        '--scenario',
        'load',
        '--devices',
        String(devices),
        '--rate',
        String(rate),
        '--duration',
        `${seconds}s`,
        '--speed',
        '1',
        ...(options.provision ? ['--provision'] : []),
        '--broker',
        broker,
      ],
      { stdio: ['ignore', options.output ? 'pipe' : 'ignore', 'pipe'] },
    ),
  );
}
