/**
 * One Chorus session per Subsonic user, logged in at an auth node through
 * the prime exactly as a player logs in (client/auth.ts), on the gateway's
 * own broker connection, and kept alive by the session's heartbeats.
 *
 * Subsonic clients send their credentials with every request. Only the
 * first request (and one after the session ended, or after `recheckMs`)
 * goes to an auth node — argon2 there, throttled there; later ones are
 * matched against a keyed hash of the credentials that logged in (an HMAC
 * under a key that lives only in this process), so the gateway never keeps
 * a password and never runs argon2 itself.
 */
import { createHmac, randomBytes } from "node:crypto";
import { createUser } from "@nats-io/nkeys";
import type { NatsConnection } from "@nats-io/transport-node";
import { UserSession } from "../../client/auth.js";
import { MemoryDeviceCookies, type DeviceCookieJar } from "../../client/device-cookies.js";
import { ChorusError } from "../../wire/errors.js";
import { authCheck, type LoginMethod } from "../../wire/auth.js";
import { at } from "../../wire/contract.js";
import { call } from "../runtime/endpoint.js";
import type { Logger } from "../runtime/log.js";
import { userKey } from "../auth/names.js";
import { ErrorCode, SubsonicError } from "./subsonic-response.js";

export type Credentials =
  | { method: "password"; user: string; password: string }
  | { method: "apiKey"; key: string }
  | { method: "token"; user: string; token: string; salt: string };

/** A user's session and what the gateway does for it now. */
export interface GatewayUser {
  /** The user's name as stored. */
  name: string;
  session: UserSession;
  /** Streams and downloads under way: the session is not let go while any are. */
  busy: number;
  lastUsed: number;
}

/** A session unused this long (and not streaming) is logged out. */
export const idleSessionMs = 10 * 60_000;
/**
 * Credentials are checked at an auth node again this often, so a revoked
 * key or a replaced app password stops working at every gateway within it
 * even if the user event that says so (user-changes.ts) was missed.
 * Each check is one login (argon2 for a password) per active user.
 */
export const recheckMs = 60_000;
const checkMs = 5000;
/** Client addresses whose device cookies are kept. */
const maxClients = 10_000;

interface Known {
  userKey: string;
  checkedAt: number;
}

export class GatewayUsers {
  private readonly users = new Map<string, GatewayUser>();
  /** Keyed hashes of credentials that logged in, and whose they are. */
  private readonly known = new Map<string, Known>();
  private readonly pending = new Map<string, Promise<GatewayUser>>();
  /**
   * One client id per user for every session the gateway opens for them, so
   * a new session (after its auth node went away) can take over the old
   * one's streams: the file node checks the deliver inbox is the session's.
   */
  private readonly clientKeys = new Map<string, string>();
  private readonly secret = randomBytes(32);
  /** Device cookies by HTTP client address, least recently seen first. */
  private readonly devices = new Map<string, DeviceCookieJar>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly nc: NatsConnection,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.sweeper = setInterval(() => this.sweep(), 30_000);
    this.sweeper.unref();
  }

  get size(): number {
    return this.users.size;
  }

  /** Check every credential of this user (by key) at an auth node again before trusting it. */
  recheck(userKey: string): void {
    for (const [print, known] of this.known)
      if (known.userKey === userKey) this.known.delete(print);
  }

  /**
   * `client`: the HTTP client's address. Each address keeps the device
   * cookies its logins earned and sends them with later logins and checks,
   * so a stranger's wrong passwords for a user, from elsewhere, do not lock
   * that user's own apps out (actors/auth/device-cookie.ts).
   */
  async authenticate(credentials: Credentials, client = ""): Promise<GatewayUser> {
    const print = this.fingerprint(credentials);
    const known = this.known.get(print);
    if (known && this.now() - known.checkedAt < recheckMs) {
      const user = this.users.get(known.userKey);
      if (user?.session.alive) {
        user.lastUsed = this.now();
        return user;
      }
    }
    let login = this.pending.get(print);
    if (!login) {
      login = this.login(credentials, print, this.devicesOf(client)).finally(() =>
        this.pending.delete(print),
      );
      this.pending.set(print, login);
    }
    return login;
  }

  private async login(
    credentials: Credentials,
    print: string,
    devices: DeviceCookieJar,
  ): Promise<GatewayUser> {
    // The user has a session already: check the new credential where it lives, no new session.
    // A client without a device cookie for the user logs in instead, to earn one.
    const name = credentials.method === "apiKey" ? undefined : credentials.user;
    const current = name === undefined ? undefined : this.users.get(userKey(name));
    const deviceCookie = name === undefined ? undefined : devices.get(name);
    if (current?.session.alive && deviceCookie) {
      try {
        await call(
          this.nc,
          at(authCheck, current.session.authNode),
          { ...current.session.credentials(), ...checkArgs(credentials), deviceCookie },
          checkMs,
        );
      } catch (err) {
        if (err instanceof ChorusError && err.code === "FORBIDDEN") {
          this.known.delete(print);
          throw wrongCredentials(credentials.method);
        }
        // The session or its node is gone, or busy: a full login decides.
        return this.fullLogin(credentials, print, devices);
      }
      this.known.set(print, { userKey: userKey(current.name), checkedAt: this.now() });
      current.lastUsed = this.now();
      return current;
    }
    return this.fullLogin(credentials, print, devices);
  }

  private async fullLogin(
    credentials: Credentials,
    print: string,
    devices: DeviceCookieJar,
  ): Promise<GatewayUser> {
    let session: UserSession;
    const known =
      credentials.method === "apiKey" ? this.known.get(print)?.userKey : userKey(credentials.user);
    const clientKey = known === undefined ? undefined : this.clientKeyOf(known);
    try {
      const [user, password, options] = loginArgs(credentials);
      session = await UserSession.login(this.nc, user, password, {
        ...options,
        clientKey,
        devices,
      });
    } catch (err) {
      this.known.delete(print);
      throw toSubsonic(err, credentials.method);
    }
    const key = userKey(session.user);
    if (!this.clientKeys.has(key)) this.clientKeys.set(key, session.clientId);
    this.known.set(print, { userKey: key, checkedAt: this.now() });
    const current = this.users.get(key);
    if (current?.session.alive) {
      // One session per user: keep the one its streams use, end the new one.
      void session.logout().catch(() => undefined);
      current.lastUsed = this.now();
      return current;
    }
    const user: GatewayUser = { name: session.user, session, busy: 0, lastUsed: this.now() };
    this.users.set(key, user);
    session.onExpired((reason) => {
      if (this.users.get(key) === user) this.users.delete(key);
      this.log.info("session ended", { user: user.name, reason: reason.code });
    });
    this.log.info("user logged in", { user: user.name, method: credentials.method });
    return user;
  }

  /** The device cookies of one client address (the most recently seen addresses are kept). */
  private devicesOf(client: string): DeviceCookieJar {
    let jar = this.devices.get(client);
    if (jar) this.devices.delete(client);
    jar ??= new MemoryDeviceCookies();
    this.devices.set(client, jar);
    if (this.devices.size > maxClients) this.devices.delete(this.devices.keys().next().value ?? "");
    return jar;
  }

  private clientKeyOf(key: string): string {
    let clientKey = this.clientKeys.get(key);
    if (!clientKey) {
      clientKey = createUser().getPublicKey();
      this.clientKeys.set(key, clientKey);
    }
    return clientKey;
  }

  /** A keyed hash: equal credentials match without the gateway keeping them. */
  private fingerprint(c: Credentials): string {
    const parts =
      c.method === "password"
        ? [c.method, userKey(c.user), c.password]
        : c.method === "apiKey"
          ? [c.method, c.key]
          : [c.method, userKey(c.user), c.token, c.salt];
    return createHmac("sha256", this.secret).update(parts.join("\u0000")).digest("base64url");
  }

  /** Drop a user's session the system no longer honours, so the next request logs in again. */
  forget(user: GatewayUser): void {
    const key = userKey(user.name);
    if (this.users.get(key) === user) this.users.delete(key);
    void user.session.logout().catch(() => undefined);
  }

  /** Log out sessions nobody used for a while; forget credentials of users who left. */
  private sweep(): void {
    const now = this.now();
    for (const [key, user] of this.users) {
      if (user.busy > 0 || now - user.lastUsed < idleSessionMs) continue;
      this.users.delete(key);
      void user.session.logout().catch(() => undefined);
    }
    for (const [print, known] of this.known) {
      if (!this.users.has(known.userKey) || now - known.checkedAt > recheckMs) {
        this.known.delete(print);
      }
    }
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    const all = [...this.users.values()];
    this.users.clear();
    await Promise.all(all.map((u) => u.session.logout().catch(() => undefined)));
  }
}

function checkArgs(c: Credentials): { method: LoginMethod; password: string; salt?: string } {
  if (c.method === "password") return { method: c.method, password: c.password };
  if (c.method === "apiKey") return { method: c.method, password: c.key };
  return { method: c.method, password: c.token, salt: c.salt };
}

function loginArgs(c: Credentials): [string, string, { method: LoginMethod; salt?: string }] {
  switch (c.method) {
    case "password":
      return [c.user, c.password, { method: "password" }];
    case "apiKey":
      return ["", c.key, { method: "apiKey" }];
    case "token":
      return [c.user, c.token, { method: "token", salt: c.salt }];
  }
}

function wrongCredentials(method: LoginMethod): SubsonicError {
  if (method === "apiKey") return new SubsonicError(ErrorCode.invalidApiKey, "Invalid API key");
  return new SubsonicError(ErrorCode.wrongCredentials, "Wrong username or password");
}

/** A failed login, as the Subsonic client is told. */
function toSubsonic(err: unknown, method: LoginMethod): SubsonicError {
  if (!(err instanceof ChorusError)) {
    return new SubsonicError(ErrorCode.generic, "login failed", { cause: err });
  }
  if (err.code === "UNAUTHORIZED" || err.code === "BAD_REQUEST" || err.code === "FORBIDDEN") {
    return wrongCredentials(method);
  }
  return new SubsonicError(ErrorCode.generic, err.message, { cause: err });
}
