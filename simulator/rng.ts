/** A small seeded PRNG (mulberry32): the same seed gives the same readings on every machine. */
export class Rng {
  private state: number;

  constructor(seed: number | string) {
    let h = typeof seed === 'number' ? seed >>> 0 : 0x811c9dc5;
    if (typeof seed === 'string') for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 0x01000193) >>> 0;
    this.state = h || 0x9e3779b9;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Normal with mean 0 and the given standard deviation (Box–Muller). */
  gaussian(sd: number): number {
    const u = Math.max(this.next(), 1e-12);
    const v = this.next();
    return sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}
