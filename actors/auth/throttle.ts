/**
 * Slowing down password guessing, per user name, without blocking anyone else.
 *
 * Rule: the first `free` (5) failures for a user name cost nothing extra;
 * after that, each further failure locks that name for `baseMs` (1 s),
 * doubling per failure up to `maxMs` (60 s). While locked, logins for that
 * name are refused with RATE_LIMITED before any hashing. A success clears the
 * record; a record is forgotten after `forgetMs` (15 min) without failures.
 * Names are counted whether or not the user exists (no enumeration), and the
 * table is bounded (`maxEntries`, oldest dropped first) so random names
 * cannot grow it without end. Counted per auth node.
 *
 * Which record a login is counted under — its user name's, or its device's
 * when it brings a valid device cookie — is decided in device-cookie.ts.
 */
import { ChorusError } from "../../wire/errors.js";

export interface ThrottleRule {
  free: number;
  baseMs: number;
  maxMs: number;
  forgetMs: number;
  maxEntries: number;
}

export const defaultThrottleRule: ThrottleRule = {
  free: 5,
  baseMs: 1000,
  maxMs: 60_000,
  forgetMs: 15 * 60_000,
  maxEntries: 10_000,
};

interface Record {
  failures: number;
  lockedUntil: number;
  lastFailure: number;
}

export class FailureThrottle {
  private readonly records = new Map<string, Record>();

  constructor(
    private readonly rule: ThrottleRule = defaultThrottleRule,
    private readonly now: () => number = Date.now,
    /** Whose failures these are, in the RATE_LIMITED message. */
    private readonly whose = "for this user",
  ) {}

  /** Throws RATE_LIMITED while `key` is locked. */
  check(key: string): void {
    const record = this.current(key);
    if (!record) return;
    const wait = record.lockedUntil - this.now();
    if (wait > 0) {
      throw new ChorusError(
        "RATE_LIMITED",
        `too many failed logins ${this.whose}; try again in ${Math.ceil(wait / 1000)} s`,
      );
    }
  }

  fail(key: string): void {
    const now = this.now();
    const record = this.current(key) ?? { failures: 0, lockedUntil: 0, lastFailure: now };
    record.failures++;
    record.lastFailure = now;
    const over = record.failures - this.rule.free;
    if (over > 0) {
      record.lockedUntil = now + Math.min(this.rule.maxMs, this.rule.baseMs * 2 ** (over - 1));
    }
    // Re-insert so the map stays ordered by last failure; drop the oldest when full.
    this.records.delete(key);
    this.records.set(key, record);
    while (this.records.size > this.rule.maxEntries) {
      const oldest = this.records.keys().next().value;
      if (oldest === undefined) break;
      this.records.delete(oldest);
    }
  }

  succeed(key: string): void {
    this.records.delete(key);
  }

  private current(key: string): Record | undefined {
    const record = this.records.get(key);
    if (record && this.now() - record.lastFailure > this.rule.forgetMs) {
      this.records.delete(key);
      return undefined;
    }
    return record;
  }
}
