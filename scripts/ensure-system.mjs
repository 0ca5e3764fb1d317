#!/usr/bin/env node
// Makes sure the Debian packages the service or the tests need are installed.
// As root on Debian it installs what is missing; otherwise it says exactly what to install.
import { accessSync, constants } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const NEEDS = {
  influxdb: { binaries: ['influxd'], packages: ['influxdb'] },
  mosquitto: { binaries: ['mosquitto', 'mosquitto_pub', 'mosquitto_sub'], packages: ['mosquitto', 'mosquitto-clients'] },
  openssl: { binaries: ['openssl'], packages: ['openssl'] },
  // PDF reports in Simplified Chinese embed this font (pdfkit's built-in fonts have no CJK glyphs).
  'cjk-font': { files: ['/usr/share/fonts/truetype/wqy/wqy-microhei.ttc'], packages: ['fonts-wqy-microhei'] },
  // The report tests turn PDFs into PNG and text to check what they show.
  poppler: { binaries: ['pdftoppm', 'pdftotext'], packages: ['poppler-utils'] },
  // Browser tests of the live board drive Debian's Chromium with playwright-core.
  chromium: { binaries: ['chromium'], packages: ['chromium'] },
  // Cluster tests: the shared Redis and the TCP load balancer in front of the nodes.
  redis: { binaries: ['redis-server'], packages: ['redis-server'] },
  haproxy: { binaries: ['haproxy'], packages: ['haproxy'] },
};

const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/bin', '/sbin']);
const found = (binary) =>
  dirs.some((dir) => {
    try {
      accessSync(path.join(dir, binary), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });

const exists = (file) => {
  try {
    accessSync(file, constants.R_OK);
    return true;
  } catch {
    return false;
  }
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !NEEDS[name]);
if (unknown.length) {
  console.error(`ensure-system: unknown requirement ${unknown.join(', ')}; known: ${Object.keys(NEEDS).join(', ')}`);
  process.exit(2);
}
const present = (name) => (NEEDS[name].binaries ?? []).every(found) && (NEEDS[name].files ?? []).every(exists);
const missing = [...new Set(wanted.filter((name) => !present(name)).flatMap((name) => NEEDS[name].packages))];
if (missing.length === 0) process.exit(0);

const isRoot = process.getuid?.() === 0;
const hasApt = found('apt-get');
if (!isRoot || !hasApt) {
  console.error(`missing system packages: ${missing.join(' ')}`);
  console.error(
    hasApt
      ? `install them with: sudo apt-get install -y ${missing.join(' ')}`
      : `install ${missing.join(', ')} with your system's package manager (Debian: apt-get install -y ${missing.join(' ')})`,
  );
  process.exit(1);
}
console.error(`installing missing Debian packages: ${missing.join(' ')}`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
try {
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
} catch (err) {
  console.error(`apt-get could not install ${missing.join(' ')}: ${err.message}`);
  process.exit(1);
}
// Debian starts packaged daemons on install where it can; ours run their own instances on free ports.
for (const service of ['influxdb', 'mosquitto']) {
  try {
    execFileSync('service', [service, 'stop'], { stdio: 'ignore' });
  } catch {
    // not running, or no service manager: nothing to stop
  }
}
