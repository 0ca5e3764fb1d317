/**
 * Per-device token bucket. Over the limit a publish is delayed, not refused: MQTT 3.1.1 has no
 * way to say "slow down" except not acknowledging yet, and a device dumping a legitimate backlog
 * must lose nothing.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {}

  /** Milliseconds to wait before this message may proceed (0 = now). */
  take(key: string, now = performance.now()): number {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { tokens: this.burst, at: now };
      this.buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    bucket.tokens -= 1;
    return bucket.tokens >= 0 ? 0 : Math.ceil((-bucket.tokens / this.perSecond) * 1000);
  }

  forget(key: string): void {
    this.buckets.delete(key);
  }
}
