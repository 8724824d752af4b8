/**
 * Whether the player's broker connection is up, and how often it dropped.
 * nats.js holds a request made while the connection is down until its own
 * timeout (up to 20 s for the prime's assignment), even when the broker is
 * back a second later and nobody ever answers it: recovery waits for the
 * connection before each try.
 */
export class BrokerLink {
  up = true;
  /** Connections lost so far. */
  drops = 0;
  private backAt = 0;
  private waiters = new Set<() => void>();

  down(): void {
    this.up = false;
    this.drops++;
    this.wake();
  }

  back(): void {
    this.up = true;
    this.backAt = performance.now();
    this.wake();
  }

  /** Milliseconds since the connection last came back (Infinity when it never dropped). */
  sinceBackMs(): number {
    return this.backAt ? performance.now() - this.backAt : Infinity;
  }

  /** Resolves at the next drop or return, or after `ms`. */
  change(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(1, Math.min(ms, 2 ** 31 - 1)));
      this.waiters.add(done);
    });
  }

  /** Resolves once the connection is up (or `cancelled()` says stop, or `ms` passed). */
  async whenUp(ms: number, cancelled: () => boolean): Promise<void> {
    const until = performance.now() + ms;
    while (!this.up && !cancelled() && performance.now() < until) {
      await this.change(Math.min(250, until - performance.now()));
    }
  }

  private wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) w();
  }
}
