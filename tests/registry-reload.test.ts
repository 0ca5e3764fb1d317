import { describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { appendToList, editConfig } from '../core/config/edit.js';
import { hashPassword } from '../core/secrets.js';
import { ConfigError, loadConfig } from '../core/config/load.js';
import { makeWorkspace, serviceOn, waitFor } from './helpers/workspace.js';

describe('registry changes while the service runs', () => {
  const suite = serviceOn(() => makeWorkspace({ devices: ['reload-1'] }));

  it('a user added to the config can log in to follow alerts without a restart', async () => {
    const passwordHash = await hashPassword('nina-password-1');
    editConfig(suite.ws.configFile, (doc) => appendToList(doc, 'users', { name: 'nina', fullName: 'Nina Night-shift', role: 'operator', passwordHash }));
    // Wait for the reload rather than hammering the login: refused logins count towards the lockout.
    await waitFor(async () => suite.service.registry.get().config.users.some((u) => u.name === 'nina'), Boolean, 10_000, 'the reload');
    const follower = await mqtt.connectAsync(`mqtt://127.0.0.1:${suite.service.mqttPort}`, {
      username: 'nina',
      password: 'nina-password-1',
      reconnectPeriod: 0,
    });
    await follower!.subscribeAsync('cc/v1/alerts/#', { qos: 1 });
    await follower!.endAsync();
  });

  it('refuses a device named "alerts", the topic tree alarms go out on', () => {
    // `coldchain device add alerts` goes through the same edit, which validates before writing.
    const add = () =>
      editConfig(suite.ws.configFile, (doc) =>
        appendToList(doc, 'devices', { id: 'alerts', location: 'dc-sh-cold-room-1', interval: '60s', tokenHash: `sha256:${'1'.repeat(64)}` }),
      );
    expect(add).toThrow(ConfigError);
    expect(add).toThrow(/devices\[1\]\.id: "alerts" is reserved/);
    expect(loadConfig(suite.ws.configFile).config.devices.map((d) => d.id)).toEqual(['reload-1']);
  });
});
