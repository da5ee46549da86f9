/**
 * OTP's restart intensity: at most `intensity` restarts within any window of `periodMs`
 * (inclusive at both ends). Each restart attempt counts, failed retries included.
 */
export class RestartIntensity {
  private restarts: number[] = [];

  constructor(
    private readonly intensity: number,
    private readonly periodMs: number,
  ) {}

  /** Records a restart at `now`; returns false when that exceeds the intensity. */
  record(now: number): boolean {
    const threshold = now - this.periodMs;
    this.restarts = this.restarts.filter((t) => t >= threshold);
    this.restarts.push(now);
    return this.restarts.length <= this.intensity;
  }
}
