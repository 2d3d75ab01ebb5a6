// Exponential backoff with full jitter: after n failures wait a random time in [base, min(cap, base·2ⁿ)].
export class Backoff {
  private failures = 0;
  constructor(
    private readonly baseMs: number,
    private readonly capMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** Records a failure and returns how long to wait before the next attempt. */
  fail(): number {
    this.failures++;
    const ceiling = Math.min(this.capMs, this.baseMs * 2 ** Math.min(this.failures, 30));
    return Math.round(this.baseMs + this.random() * Math.max(0, ceiling - this.baseMs));
  }

  reset(): void {
    this.failures = 0;
  }

  get count(): number {
    return this.failures;
  }
}
