/**
 * Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device
 * Cookies"): a stranger's wrong guesses must not lock a user out, while
 * guessing stays slow.
 *
 * A successful login returns a device cookie: an opaque token bound to the
 * user name, HMAC-SHA256'd under a key derived from the actor secret (which
 * every auth node of a deployment shares and listeners never see). The
 * client keeps it and sends it with its later logins as that user.
 *
 * - A login with a valid cookie for its user name is trusted: it is
 *   throttled only by the failures made with that cookie (the same rule as
 *   the per-name lock, counted per cookie), never by the per-name lock.
 * - Any other login (no cookie, or one that is forged, altered, expired, for
 *   another name or from another deployment) is untrusted: the per-name
 *   lock of throttle.ts applies, as before. Why a cookie did not verify is
 *   never said.
 *
 * Format: `d1.<id>.<issued>.<mac>` — a random 128-bit id (the key its
 * failures are counted under), the issue time (ms, base 36), and
 * HMAC(key, "d1|id|issued|userKey"). The user name is not in the cookie,
 * only in the MAC. A cookie is valid for `maxAgeMs` (30 days) after issue;
 * each successful login issues a fresh one.
 */
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import { defaultThrottleRule, FailureThrottle, type ThrottleRule } from "./throttle.js";

export const deviceCookieMaxAgeMs = 30 * 24 * 3600_000;
/** Issue times this far ahead of the node's clock still verify (clocks of two machines differ). */
const clockSkewMs = 5 * 60_000;

const cookiePattern = /^d1\.([A-Za-z0-9_-]{22})\.([0-9a-z]{1,11})\.([A-Za-z0-9_-]{43})$/;

export class DeviceCookies {
  private readonly key: Buffer;

  constructor(
    actorSecret: string,
    private readonly now: () => number = Date.now,
    readonly maxAgeMs = deviceCookieMaxAgeMs,
  ) {
    this.key = Buffer.from(
      hkdfSync("sha256", actorSecret, "chorus", "chorus device cookies v1", 32),
    );
  }

  /** A new cookie for the user with lookup key `userKey` (names.ts). */
  issue(userKey: string): string {
    const id = randomBytes(16).toString("base64url");
    const issued = this.now().toString(36);
    return `d1.${id}.${issued}.${this.mac(id, issued, userKey).toString("base64url")}`;
  }

  /** The cookie's id when `cookie` is valid for `userKey` now; undefined for anything else. */
  verify(cookie: string | undefined, userKey: string): string | undefined {
    const parts = cookie === undefined ? null : cookiePattern.exec(cookie);
    if (!parts) return undefined;
    const [, id = "", issued = "", mac = ""] = parts;
    // Compared as text: base64url's last character has spare bits, so two
    // spellings decode alike, and a cookie has exactly one valid spelling.
    const expected = Buffer.from(this.mac(id, issued, userKey).toString("base64url"));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    const age = this.now() - parseInt(issued, 36);
    if (age > this.maxAgeMs || age < -clockSkewMs) return undefined;
    return id;
  }

  private mac(id: string, issued: string, userKey: string): Buffer {
    return createHmac("sha256", this.key).update(`d1|${id}|${issued}|${userKey}`).digest();
  }
}

/** Whose failure record a login is counted under. */
export type LoginTrust = { device: string } | { name: string };

/**
 * The two failure records of a login: per user name for untrusted logins,
 * per device cookie for trusted ones. `check` throws RATE_LIMITED while the
 * login's record is locked; the outcome is reported with what it returned.
 */
export class LoginThrottle {
  private readonly byName: FailureThrottle;
  private readonly byDevice: FailureThrottle;

  constructor(
    readonly cookies: DeviceCookies,
    rule: ThrottleRule = defaultThrottleRule,
    now: () => number = Date.now,
  ) {
    this.byName = new FailureThrottle(rule, now, "for this user");
    this.byDevice = new FailureThrottle(rule, now, "from this device");
  }

  check(userKey: string, cookie: string | undefined): LoginTrust {
    const device = this.cookies.verify(cookie, userKey);
    const trust: LoginTrust = device === undefined ? { name: userKey } : { device };
    this.recordOf(trust).check(this.keyOf(trust));
    return trust;
  }

  fail(trust: LoginTrust): void {
    this.recordOf(trust).fail(this.keyOf(trust));
  }

  /** Clears the login's own record only: a trusted login leaves a stranger's lock on the name. */
  succeed(trust: LoginTrust): void {
    this.recordOf(trust).succeed(this.keyOf(trust));
  }

  private recordOf(trust: LoginTrust): FailureThrottle {
    return "device" in trust ? this.byDevice : this.byName;
  }

  private keyOf(trust: LoginTrust): string {
    return "device" in trust ? trust.device : trust.name;
  }
}
