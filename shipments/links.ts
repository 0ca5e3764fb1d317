import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Receiver verification links. The token is the link id plus an HMAC of it under a key that
 * never leaves the data directory: the service can print the same link again (on a PDF's QR
 * code) without storing the token, and nobody can forge or guess one. Revocation and expiry
 * are stored facts, checked on every use.
 */
/** 256 bits, as the key is made. */
export const MIN_KEY_BYTES = 32;

export class LinkSigner {
  private constructor(private readonly key: Buffer) {}

  static open(dataDir: string): LinkSigner {
    const file = path.join(dataDir, 'keys', 'verification-links.key');
    if (!existsSync(file)) {
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
    }
    chmodSync(file, 0o600);
    const text = readFileSync(file, 'utf8').trim();
    const key = Buffer.from(text, 'base64');
    // An empty, truncated or hand-written key would sign links anyone could forge (an empty HMAC key is valid to node).
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || key.length < MIN_KEY_BYTES) {
      throw new Error(
        `${file}: the receiver-link key must be at least ${MIN_KEY_BYTES} random bytes in base64 (found ${text.length === 0 ? 'an empty file' : `${key.length} bytes`}); restore it from a backup, or delete the file to have a new one made (every link given out so far stops working)`,
      );
    }
    return new LinkSigner(key);
  }

  static newLinkId(): string {
    return randomBytes(9).toString('base64url');
  }

  private mac(linkId: string): string {
    return createHmac('sha256', this.key).update(linkId).digest('base64url').slice(0, 32);
  }

  token(linkId: string): string {
    return `${linkId}.${this.mac(linkId)}`;
  }

  /** The link id of a genuine token, or undefined. */
  verify(token: string): string | undefined {
    const match = /^([A-Za-z0-9_-]{12})\.([A-Za-z0-9_-]{32})$/.exec(token);
    if (!match) return undefined;
    const expected = Buffer.from(this.mac(match[1]!));
    const presented = Buffer.from(match[2]!);
    return expected.length === presented.length && timingSafeEqual(expected, presented) ? match[1] : undefined;
  }
}
