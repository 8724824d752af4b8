/**
 * What an auth node does, independent of how requests reach it: log users in
 * (one slot of capacity each), keep sessions alive on heartbeats, end them,
 * and tell file nodes whether a session is alive.
 */
import type { Actor } from "../runtime/actor.js";
import { actorPasswordOf } from "../runtime/identity.js";
import { ChorusError } from "../../wire/errors.js";
import { checkUserName, userKey } from "./names.js";
import { HashLimiter, verifyPassword } from "./passwords.js";
import {
  deviceCookieAad,
  tokenAad,
  type BeatReply,
  type LoginReply,
  type LoginRequest,
  type VerifyReply,
} from "../../wire/auth.js";
import type { SessionCredentials } from "../../wire/session.js";
import { checkPublicKey, sealTo } from "../../wire/seal.js";
import { SessionTable } from "./sessions.js";
import { DeviceCookies, LoginThrottle } from "./device-cookie.js";
import type { UserStore } from "./users.js";

export class AuthService {
  readonly sessions: SessionTable;
  /** Failed logins, per user name, or per device cookie for devices that logged in before. */
  private readonly throttle: LoginThrottle;
  private readonly limiter = new HashLimiter();
  /** Claimed logins still hashing (each holds its slot). */
  private pending = 0;

  constructor(
    private readonly actor: Actor,
    private readonly store: UserStore,
    /** Resolves once the node has caught up with user events (logins wait for it). */
    private readonly ready: Promise<void>,
  ) {
    const { heartbeatMs, missedBeats } = actor.config;
    this.sessions = new SessionTable(heartbeatMs * missedBeats);
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
    const key = userKey(checkUserName(req.user));
    checkPublicKey(req.publicKey);
    const trust = this.throttle.check(key, req.deviceCookie);
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
      const row = await this.store.find(key);
      const ok = await this.limiter.run(() => verifyPassword(row?.hash, req.password), claimed);
      if (!ok || !row) {
        this.throttle.fail(trust);
        actor.log.info("login refused");
        throw new ChorusError("UNAUTHORIZED", "wrong user name or password");
      }
      this.throttle.succeed(trust);
      if (noRoom())
        throw new ChorusError("NO_ROOM", "auth node is full: ask the prime for another");
      const { session, token } = this.sessions.open(key, row.name);
      try {
        const sealed = sealTo(req.publicKey, token, tokenAad(actor.id, session.id));
        const cookie = this.throttle.cookies.issue(key);
        const deviceCookie = sealTo(req.publicKey, cookie, deviceCookieAad(actor.id, session.id));
        opened = true;
        actor.log.info("logged in", { user: row.name, session: session.id });
        return {
          sessionId: session.id,
          user: row.name,
          sealed,
          beatMs: actor.config.heartbeatMs,
          expiresAfterMs: this.sessions.expiresAfterMs,
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

  beat(req: SessionCredentials): BeatReply {
    this.sessions.beat(req.sessionId, req.token);
    return { expiresAfterMs: this.sessions.expiresAfterMs };
  }

  logout(req: SessionCredentials): Record<string, never> {
    const session = this.sessions.close(req.sessionId, req.token);
    this.actor.log.info("logged out", { user: session.user, session: session.id });
    this.actor.beat();
    return {};
  }

  verify(req: SessionCredentials): VerifyReply {
    return { user: this.sessions.check(req.sessionId, req.token).user };
  }

  /** End sessions whose beats stopped; publish the lower load at once. */
  sweep(): void {
    const ended = this.sessions.sweep();
    if (ended > 0) {
      this.actor.log.info("sessions expired", { count: ended });
      this.actor.beat();
    }
  }
}
