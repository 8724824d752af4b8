/**
 * What an auth node does, independent of how requests reach it: log users in
 * (one slot of capacity each), keep sessions alive on heartbeats, end them,
 * and tell file nodes whether a session is alive.
 */
import { fromPublic } from "@nats-io/nkeys";
import type { Actor } from "../runtime/actor.js";
import { actorPasswordOf } from "../runtime/identity.js";
import { ChorusError } from "../../wire/errors.js";
import { checkUserName, userKey } from "./names.js";
import { HashLimiter, verifyPassword } from "./passwords.js";
import {
  deviceCookieAad,
  tokenAad,
  type BeatReply,
  type CheckRequest,
  type LoginMethod,
  type LoginReply,
  type LoginRequest,
  type VerifyReply,
} from "../../wire/auth.js";
import type { SessionCredentials } from "../../wire/session.js";
import { checkPublicKey, sealTo } from "../../wire/seal.js";
import { brokerKeys, sessionJwt, type BrokerKeys } from "../runtime/broker-auth.js";
import { SessionTable, type Session } from "./sessions.js";
import { DeviceCookies, LoginThrottle } from "./device-cookie.js";
import type { UserStore } from "./users.js";
import type { UserRow } from "./schema.js";
import { apiKeyId, apiKeyMatches, parseSecrets, tokenMatches } from "./secrets.js";
import { EventKey } from "../../wire/seal.js";

/** A client key must be a real user nkey (its checksum too): a JWT is minted for it. */
function checkClientKey(key: string): void {
  try {
    fromPublic(key);
  } catch {
    throw new ChorusError("BAD_REQUEST", "clientKey: not a user nkey");
  }
}

export class AuthService {
  readonly sessions: SessionTable;
  /** Failed logins, per user name, or per device cookie for devices that logged in before. */
  private readonly throttle: LoginThrottle;
  private readonly limiter = new HashLimiter();
  /** Claimed logins still hashing (each holds its slot). */
  private pending = 0;
  private readonly keys: BrokerKeys;
  /** Opens app passwords (sealed like user events). */
  private readonly eventKey: EventKey;
  /** Our broker connection is up (sessions expire only while it is). */
  private connected = true;

  constructor(
    private readonly actor: Actor,
    private readonly store: UserStore,
    /** Resolves once the node has caught up with user events (logins wait for it). */
    private readonly ready: Promise<void>,
  ) {
    const { heartbeatMs, missedBeats } = actor.config;
    this.sessions = new SessionTable(heartbeatMs * missedBeats);
    this.keys = brokerKeys(actorPasswordOf(actor.config));
    this.eventKey = new EventKey(actorPasswordOf(actor.config));
    this.throttle = new LoginThrottle(new DeviceCookies(actorPasswordOf(actor.config)));
    // Sessions are real users; a claimed login still checking its password is
    // unproven (anyone may send one), so it cannot make the node full alone.
    actor.setLoad(
      () => this.sessions.size,
      () => this.pending,
    );
  }

  async login(req: LoginRequest): Promise<LoginReply> {
    const actor = this.actor;
    if (actor.isStopping()) throw new ChorusError("UNAVAILABLE", "auth node is stopping");
    const method = req.method ?? "password";
    // An API key names its user: it is throttled under its own id instead.
    const keyId = method === "apiKey" ? apiKeyId(req.password) : undefined;
    if (method === "apiKey" && !keyId) {
      throw new ChorusError("UNAUTHORIZED", "not an API key");
    }
    if (method === "token" && !req.salt) throw new ChorusError("BAD_REQUEST", "salt is missing");
    const key = keyId ? `apikey:${keyId}` : userKey(checkUserName(req.user));
    checkPublicKey(req.publicKey);
    checkClientKey(req.clientKey);
    const trust = this.throttle.check(key, keyId ? undefined : req.deviceCookie);
    // A claimed login holds its slot while it hashes; an unclaimed one takes a
    // slot only if one is free when it succeeds, so failing logins (a flood of
    // guesses) never make the node look full.
    const claimed = actor.consumeClaim(req.claim);
    const noRoom = (): boolean => !claimed && !actor.hasRoom();
    if (noRoom()) throw new ChorusError("NO_ROOM", "auth node is full: ask the prime for another");
    if (claimed) this.pending++;
    let opened = false;
    try {
      await this.ready;
      const row = keyId ? await this.store.findByKeyId(keyId) : await this.store.find(key);
      const ok = await this.check(method, row, req, claimed);
      if (!ok || !row) {
        this.throttle.fail(trust);
        actor.log.info("login refused");
        throw new ChorusError("UNAUTHORIZED", "wrong user name or password");
      }
      this.throttle.succeed(trust);
      if (noRoom())
        throw new ChorusError("NO_ROOM", "auth node is full: ask the prime for another");
      const { session, token } = this.sessions.open(row.key, row.name, req.clientKey);
      try {
        const sealed = sealTo(req.publicKey, token, tokenAad(actor.id, session.id));
        const brokerJwt = await this.renewBrokerIdentity(session);
        const cookie = this.throttle.cookies.issue(row.key);
        const deviceCookie = sealTo(req.publicKey, cookie, deviceCookieAad(actor.id, session.id));
        opened = true;
        actor.log.info("logged in", { user: row.name, session: session.id });
        return {
          sessionId: session.id,
          user: row.name,
          sealed,
          beatMs: actor.config.heartbeatMs,
          expiresAfterMs: this.sessions.expiresAfterMs,
          brokerJwt,
          deviceCookie,
        };
      } catch (err) {
        this.sessions.drop(session.id);
        throw err;
      }
    } finally {
      if (claimed) this.pending--;
      if (claimed || opened) actor.beat();
    }
  }

  /** The login's secret against the user's row: argon2 for passwords (limited), else secrets.ts. */
  private async check(
    method: LoginMethod,
    row: UserRow | undefined,
    req: LoginRequest,
    claimed: boolean,
  ): Promise<boolean> {
    if (method === "password") {
      return this.limiter.run(() => verifyPassword(row?.hash, req.password), claimed);
    }
    const secrets = parseSecrets(row?.secrets);
    if (method === "apiKey") return row !== undefined && apiKeyMatches(secrets, req.password);
    return row !== undefined && tokenMatches(secrets, this.eventKey, req.password, req.salt ?? "");
  }

  /** Whether a credential is the session's own user's (no new session); throttled like logins. */
  async checkCredential(req: CheckRequest): Promise<Record<string, never>> {
    const session = this.sessions.check(req.sessionId, req.token);
    const keyId = req.method === "apiKey" ? apiKeyId(req.password) : undefined;
    const throttleKey = keyId ? `apikey:${keyId}` : session.userKey;
    const trust = this.throttle.check(throttleKey, keyId ? undefined : req.deviceCookie);
    await this.ready;
    const row = await this.store.find(session.userKey);
    const login = { ...req, user: session.user, publicKey: "", clientKey: "" };
    const ok = await this.check(req.method, row, login, false);
    if (!ok) {
      this.throttle.fail(trust);
      // Not UNAUTHORIZED: that says the session itself is gone.
      throw new ChorusError("FORBIDDEN", "wrong credentials for this session's user");
    }
    this.throttle.succeed(trust);
    return {};
  }

  async beat(req: SessionCredentials): Promise<BeatReply> {
    const session = this.sessions.beat(req.sessionId, req.token);
    const brokerJwt = await this.renewBrokerIdentity(session);
    return { expiresAfterMs: this.sessions.expiresAfterMs, brokerJwt };
  }

  /**
   * A new broker identity for the session's client key, lasting the lease,
   * when the newest one has less than half of it left (so a session's
   * connection outlives it by at most one lease, and renews rarely: the
   * broker disconnects a client at its JWT's expiry, and it reconnects with
   * the newest one).
   */
  private async renewBrokerIdentity(session: Session): Promise<string | undefined> {
    const lease = this.actor.config.brokerLeaseMs;
    const now = Date.now();
    if (session.brokerExpiresAt - now > lease / 2) return undefined;
    session.brokerExpiresAt = now + lease;
    return sessionJwt(this.keys, session.clientId, session.user, session.brokerExpiresAt);
  }

  logout(req: SessionCredentials): Record<string, never> {
    const session = this.sessions.close(req.sessionId, req.token);
    this.actor.log.info("logged out", { user: session.user, session: session.id });
    this.actor.beat();
    return {};
  }

  verify(req: SessionCredentials): VerifyReply {
    const session = this.sessions.check(req.sessionId, req.token);
    return { user: session.user, client: session.clientId };
  }

  /**
   * Follow our own broker connection: while it is down (and when it is
   * back) a session's missing beats are not its client's fault.
   */
  async watchConnection(): Promise<void> {
    for await (const s of this.actor.nc.status()) {
      if (s.type === "disconnect") this.connected = false;
      if (s.type === "reconnect") {
        this.connected = true;
        this.sessions.excuseSilence();
      }
    }
  }

  /** End sessions whose beats stopped; publish the lower load at once. */
  sweep(): void {
    if (!this.connected) {
      this.sessions.excuseSilence();
      return;
    }
    const ended = this.sessions.sweep();
    if (ended > 0) {
      this.actor.log.info("sessions expired", { count: ended });
      this.actor.beat();
    }
  }
}
