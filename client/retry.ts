/**
 * Trying again within one overall deadline. Every request of every try waits
 * at most what is left of it, so an operation (log in, find a node, play)
 * ends by its deadline however many steps and tries it takes.
 */

/** A moment several requests share: each waits at most what is left. */
export class Deadline {
  private readonly at: number;

  constructor(ms: number) {
    this.at = performance.now() + ms;
  }

  /** No deadline: requests wait their own timeouts, tries go on until cancelled. */
  static never(): Deadline {
    return new Deadline(Infinity);
  }

  /** Milliseconds left, 0 once passed. */
  get left(): number {
    return Math.max(0, this.at - performance.now());
  }

  /** Passed, or too close for another try (timers fire to about a millisecond). */
  get passed(): boolean {
    return this.left < 5;
  }

  /** A request's timeout: its own `capMs`, or what is left when that is less. */
  timeout(capMs: number): number {
    // nats.js takes 0 as "no timeout": a passed deadline still times out at once.
    return Math.max(1, Math.ceil(Math.min(capMs, this.left)));
  }
}

export interface RetryOptions {
  deadline: Deadline;
  /** Can another try help (a node not answering yet, a session that ended)? */
  retryable(err: unknown): boolean;
  /** Before the next try, e.g. forget the node that failed. */
  beforeRetry?(err: unknown, attempt: number): Promise<void> | void;
  /** Stop trying now (the player closed, the user moved on): the last error is thrown. */
  cancelled?(): boolean;
  /** The wait after the first failure; it doubles up to `maxWaitMs`. */
  firstWaitMs?: number;
  maxWaitMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Run `attempt` until it works, fails for good or is cancelled; at the
 * deadline the last error is thrown. The total is the deadline, whatever
 * the tries are made of.
 */
export async function retry<T>(attempt: () => Promise<T>, options: RetryOptions): Promise<T> {
  const { deadline } = options;
  let wait = options.firstWaitMs ?? 50;
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (err) {
      if (!options.retryable(err) || options.cancelled?.() || deadline.passed) throw err;
      await options.beforeRetry?.(err, tries);
      await sleep(Math.ceil(Math.min(wait, deadline.left)));
      if (options.cancelled?.() || deadline.passed) throw err;
      wait = Math.min(options.maxWaitMs ?? 800, wait * 2);
    }
  }
}
