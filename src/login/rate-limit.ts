/**
 * Login attempts per client IP per minute, in this instance's memory (PRODUCT.md §4: per instance).
 * Two one-minute windows weighted by overlap approximate a sliding window without per-hit storage.
 */
export class RateLimiter {
  private current = new Map<string, number>();
  private previous = new Map<string, number>();
  private windowStart = 0;

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = () => Date.now(),
    private readonly maxKeys = 1_000_000,
  ) {}

  /** Counts one attempt; returns 0 when allowed, otherwise seconds to wait. */
  hit(key: string): number {
    if (this.perMinute <= 0) return 0;
    const t = this.now();
    this.roll(t);
    const elapsed = (t - this.windowStart) / 60_000;
    const used = (this.previous.get(key) ?? 0) * (1 - elapsed) + (this.current.get(key) ?? 0);
    if (used >= this.perMinute) return Math.max(1, Math.ceil(60 - elapsed * 60));
    if (this.current.size >= this.maxKeys && !this.current.has(key)) return Math.max(1, Math.ceil(60 - elapsed * 60));
    this.current.set(key, (this.current.get(key) ?? 0) + 1);
    return 0;
  }

  private roll(t: number) {
    const start = Math.floor(t / 60_000) * 60_000;
    if (start === this.windowStart) return;
    this.previous = start - this.windowStart === 60_000 ? this.current : new Map();
    this.current = new Map();
    this.windowStart = start;
  }
}
