import { createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { isIP } from 'node:net';

/*
 * A self-signed certificate for the API's first start (issue 12, item 10), made with node:crypto
 * alone (no openssl needed on the host): an ECDSA P-256 key and a minimal X.509 v3 certificate,
 * DER-encoded here, for localhost, this host's name, 127.0.0.1 and ::1.
 */

const der = (tag: number, content: Buffer): Buffer => {
  const n = content.length;
  const length = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, content]);
};
const sequence = (...items: Buffer[]) => der(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => der(0x31, Buffer.concat(items));
const integer = (bytes: Buffer) => der(0x02, bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
const utf8 = (text: string) => der(0x0c, Buffer.from(text, 'utf8'));
const octets = (bytes: Buffer) => der(0x04, bytes);
const bits = (bytes: Buffer) => der(0x03, Buffer.concat([Buffer.from([0]), bytes]));
const explicit = (n: number, content: Buffer) => der(0xa0 + n, content);

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [40 * a! + b!];
  for (const arc of rest) {
    const chunk = [arc & 0x7f];
    for (let v = arc >>> 7; v > 0; v >>>= 7) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return der(0x06, Buffer.from(out));
}

/** UTCTime until 2049, GeneralizedTime after (RFC 5280 4.1.2.5). */
function time(at: Date): Buffer {
  const iso = at.toISOString().replace(/[-:T]/g, '').slice(0, 14); // YYYYMMDDHHMMSS
  return at.getUTCFullYear() < 2050 ? der(0x17, Buffer.from(`${iso.slice(2)}Z`)) : der(0x18, Buffer.from(`${iso}Z`));
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  const [head, tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  return Buffer.concat(groups.map((g) => Buffer.from([parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff])));
}

const ECDSA_WITH_SHA256 = sequence(oid('1.2.840.10045.4.3.2'));

/** A PEM certificate and PKCS#8 key, self-signed, valid from an hour ago for `days`. */
export function selfSignedCertificate(options: { commonName?: string; dnsNames?: string[]; ips?: string[]; days?: number } = {}): {
  cert: string;
  key: string;
} {
  const commonName = options.commonName ?? 'coldchain (self-signed)';
  const dnsNames = [...new Set(options.dnsNames ?? ['localhost', hostname()])].filter((n) => /^[A-Za-z0-9.-]+$/.test(n));
  const ips = options.ips ?? ['127.0.0.1', '::1'];
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const name = sequence(set(sequence(oid('2.5.4.3'), utf8(commonName))));
  const notBefore = new Date(Date.now() - 3_600_000);
  const notAfter = new Date(notBefore.getTime() + (options.days ?? 825) * 86_400_000);
  const altNames = sequence(...dnsNames.map((n) => der(0x82, Buffer.from(n, 'ascii'))), ...ips.map((ip) => der(0x87, ipBytes(ip))));
  const extensions = sequence(
    sequence(oid('2.5.29.17'), octets(altNames)), // subjectAltName
    sequence(oid('2.5.29.37'), octets(sequence(oid('1.3.6.1.5.5.7.3.1')))), // extendedKeyUsage: serverAuth
  );
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  const tbs = sequence(
    explicit(0, integer(Buffer.from([2]))), // v3
    integer(serial),
    ECDSA_WITH_SHA256,
    name,
    sequence(time(notBefore), time(notAfter)),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, extensions),
  );
  const signature = sign('sha256', tbs, { key: privateKey, dsaEncoding: 'der' });
  const certificate = sequence(tbs, ECDSA_WITH_SHA256, bits(signature));
  const cert = `-----BEGIN CERTIFICATE-----\n${certificate
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`;
  // Parse what was written: a mistake here must fail now, not in a browser.
  const parsed = new X509Certificate(cert);
  if (!parsed.verify(publicKey) || !parsed.checkPrivateKey(createPrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' }))))
    throw new Error('the self-signed certificate does not verify');
  return { cert, key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

/** Where `coldchain init` puts the API's certificate and key, under the data directory. */
export const tlsFiles = (dataDir: string) => ({
  dir: path.join(dataDir, 'tls'),
  cert: path.join(dataDir, 'tls', 'http.crt'),
  key: path.join(dataDir, 'tls', 'http.key'),
});

/** Writes a self-signed pair (both 0600, in a 0700 folder) unless one is already there; says which. */
export function ensureSelfSigned(dataDir: string): { cert: string; key: string; created: boolean } {
  const files = tlsFiles(dataDir);
  if (existsSync(files.cert) && existsSync(files.key)) return { cert: files.cert, key: files.key, created: false };
  mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  chmodSync(files.dir, 0o700);
  const { cert, key } = selfSignedCertificate();
  writeFileSync(files.key, key, { mode: 0o600 });
  writeFileSync(files.cert, cert, { mode: 0o600 });
  chmodSync(files.key, 0o600);
  chmodSync(files.cert, 0o600);
  return { cert: files.cert, key: files.key, created: true };
}
