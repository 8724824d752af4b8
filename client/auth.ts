/**
 * The client half of the auth protocol (wire/auth.ts): ask the prime for an
 * auth node, log in there, keep the session alive with heartbeats (which
 * renew its broker identity), log out.
 *
 *   const session = await logIn(config, "my-app", "Someone", password, {
 *     onExpired: (err) => ...,   // the session is gone: log in again
 *   });
 *   session.nc                   // the session's own broker connection
 *   session.credentials()        // {sessionId, token} for file nodes' requests
 *   await session.close();       // log out, close the connection
 *
 * The token reaches the client sealed to a key pair made for this login, so
 * strangers reading the public inbox cannot learn it. So does the device
 * cookie, which a client that passes `devices` keeps and sends with its next
 * login as that user (client/device-cookies.ts).
 */
import { at } from "../wire/contract.js";
import { authBeat, authLogin, authLogout } from "../wire/auth.js";
import { primeAssign } from "../wire/prime.js";
import { createUser } from "@nats-io/nkeys";
import { createInbox, type NatsConnection } from "@nats-io/transport-node";
import { call } from "../actors/runtime/endpoint.js";
import { ChorusError, type ErrorCode } from "../wire/errors.js";
import type { NodeView } from "../wire/presence.js";
import {
  deviceCookieAad,
  loginReplySchema,
  tokenAad,
  type BeatReply,
  type LoginMethod,
  type LoginRequest,
} from "../wire/auth.js";
import { sessionInboxPrefix } from "../wire/permissions.js";
import type { DeviceCookieJar } from "./device-cookies.js";
import { newEphemeralKey, openSealed } from "../wire/seal.js";
import type { SessionCredentials } from "../wire/session.js";
import type { ChorusConfig } from "../actors/runtime/config.js";
import { connectBroker } from "../actors/runtime/connect.js";
import { ClientIdentity } from "./identity.js";
import { Deadline, retry } from "./retry.js";

export interface LoginOptions {
  /** Called once when the session ends other than by logout(): expired, node gone. */
  onExpired?: (reason: ChorusError) => void;
  /** Send heartbeats (default true). */
  heartbeats?: boolean;
  /** The whole login, retries included, ends within this (default 20 s: a node may be spawned). */
  timeoutMs?: number;
  /** Or by this deadline, shared with a larger operation. */
  deadline?: Deadline;
  /**
   * The client's broker identity: the session gets broker rights of its own
   * for it, and its connection (`session.nc`) once logged in. Without one the
   * session uses the connection it logged in on (an actor's, in tests).
   */
  identity?: ClientIdentity;
  /**
   * Where this device keeps its device cookies: the login sends the one kept
   * for the user and keeps the new one, so others' failed guesses for the
   * name do not lock this device out. Without it, no cookie is sent or kept.
   */
  devices?: DeviceCookieJar;
  /**
   * Without an identity: the client id to log in for (a user nkey's public
   * key), so a later session of the same client has the same inbox prefix and
   * can take over its streams (a file node's `rebind`). Default: a fresh one.
   */
  clientKey?: string;
  /** What the password is (default: the user's password); see wire/auth.ts. */
  method?: LoginMethod;
  /** The salt of a `token` login. */
  salt?: string;
}

/** The default deadline of a login, and the cap of each of its requests. */
export const loginTimeoutMs = 20_000;
/**
 * A node the prime has just spawned answers claims a moment before its login
 * endpoint is subscribed: "nobody answers" is tried this often there before
 * the node counts as gone.
 */
const triesPerNode = 6;
/**
 * How long a login asks again when no prime answers: while the role passes
 * to another control node (within 3 beats of the default 1 s), nobody does.
 */
export const noPrimeWaitMs = 5000;

function isCode(err: unknown, ...codes: ErrorCode[]): boolean {
  return err instanceof ChorusError && codes.includes(err.code);
}

export class UserSession {
  private timer?: NodeJS.Timeout;
  private ended = false;
  private lastOk = Date.now();
  /** When our connection last came back: its nodes may not have resubscribed yet. */
  private reconnectedAt = 0;
  /** The connection is down: no beat can arrive, and none is missed against the session. */
  private away = false;
  private beating = false;
  private expiredHandlers: Array<(reason: ChorusError) => void> = [];
  private identity?: ClientIdentity;

  private constructor(
    /** The connection the session's requests go on (its own identity's, when it has one). */
    readonly nc: NatsConnection,
    /** The auth node holding this session. */
    readonly authNode: string,
    readonly sessionId: string,
    /** The session token: a secret, never log it. */
    readonly token: string,
    /** The user's name as stored (its original spelling). */
    readonly user: string,
    readonly beatMs: number,
    readonly expiresAfterMs: number,
    /** The client id the session's broker identity is for: its inboxes start with its prefix. */
    readonly clientId: string,
  ) {}

  /** A fresh inbox of this session's identity, for a file node or the prime to deliver into. */
  newInbox(): string {
    return createInbox(sessionInboxPrefix(this.clientId));
  }

  /**
   * Ask the prime for an auth node with room, log in there, start
   * heartbeats. A node that filled up or went away is replaced by the
   * prime's next pick, until the deadline.
   */
  static async login(
    nc: NatsConnection,
    user: string,
    password: string,
    options: LoginOptions = {},
  ): Promise<UserSession> {
    const deadline = options.deadline ?? new Deadline(options.timeoutMs ?? loginTimeoutMs);
    let assigned: { node: NodeView; claim: string } | undefined;
    let assigning = false;
    const started = Date.now();
    return retry(
      async () => {
        if (!assigned) {
          // No room anywhere ends the login (assigning stays true); no prime, after a takeover's time.
          assigning = true;
          assigned = await call(
            nc,
            at(primeAssign),
            { kind: "auth" },
            deadline.timeout(loginTimeoutMs),
          );
          assigning = false;
        }
        const { node, claim } = assigned;
        try {
          return await UserSession.loginAt(nc, node.id, user, password, {
            ...options,
            claim,
            deadline,
          });
        } catch (err) {
          assigned = undefined;
          throw err;
        }
      },
      {
        deadline,
        retryable: (err) =>
          assigning
            ? isCode(err, "UNAVAILABLE") && Date.now() - started < noPrimeWaitMs
            : isCode(err, "NO_ROOM", "UNAVAILABLE"),
        firstWaitMs: 50,
        maxWaitMs: 250,
      },
    );
  }

  /**
   * Log in at a known auth node (with a claim from the prime, or where it
   * has room); a node that does not answer yet is tried again briefly.
   */
  static async loginAt(
    nc: NatsConnection,
    authNode: string,
    user: string,
    password: string,
    options: LoginOptions & { claim?: string } = {},
  ): Promise<UserSession> {
    const key = newEphemeralKey();
    const identity = options.identity;
    // Without an identity (a session on an actor's connection), a key nobody connects with.
    const clientKey = identity?.clientId ?? options.clientKey ?? createUser().getPublicKey();
    const request: LoginRequest = {
      user,
      password,
      publicKey: key.publicKey,
      claim: options.claim,
      clientKey,
      deviceCookie: options.devices?.get(user),
      ...(options.method ? { method: options.method } : {}),
      ...(options.salt ? { salt: options.salt } : {}),
    };
    const deadline = options.deadline ?? new Deadline(options.timeoutMs ?? loginTimeoutMs);
    let tries = 0;
    const raw = await retry(
      () => {
        tries++;
        const timeoutMs = deadline.timeout(loginTimeoutMs);
        return call(nc, at(authLogin, authNode), request, timeoutMs);
      },
      {
        deadline,
        retryable: (err) => isCode(err, "UNAVAILABLE") && tries < triesPerNode,
        firstWaitMs: 50,
        maxWaitMs: 250,
      },
    );
    const parsed = loginReplySchema.safeParse(raw);
    if (!parsed.success) throw new ChorusError("INTERNAL", "malformed login reply");
    const reply = parsed.data;
    const token = openSealed(key, reply.sealed, tokenAad(authNode, reply.sessionId));
    if (reply.deviceCookie && options.devices) {
      try {
        const aad = deviceCookieAad(authNode, reply.sessionId);
        options.devices.set(user, openSealed(key, reply.deviceCookie, aad));
      } catch {
        // a cookie that does not open is no cookie: the session stands
      }
    }
    let sessionNc = nc;
    if (identity) {
      if (!reply.brokerJwt) throw new ChorusError("INTERNAL", "login reply has no broker identity");
      identity.update(reply.brokerJwt);
      sessionNc = await identity.connect();
    }
    const session = new UserSession(
      sessionNc,
      authNode,
      reply.sessionId,
      token,
      reply.user,
      reply.beatMs,
      reply.expiresAfterMs,
      clientKey,
    );
    session.identity = identity;
    if (options.onExpired) session.onExpired(options.onExpired);
    if (options.heartbeats ?? true) session.startHeartbeats();
    return session;
  }

  /** What file nodes' requests carry to prove the session. */
  credentials(): SessionCredentials {
    return { sessionId: this.sessionId, token: this.token };
  }

  /** False once the session has ended (logout, expiry, node gone). */
  get alive(): boolean {
    return !this.ended;
  }

  onExpired(handler: (reason: ChorusError) => void): void {
    this.expiredHandlers.push(handler);
  }

  /** One heartbeat now (it may bring a renewed broker identity); throws UNAUTHORIZED when the session is gone. */
  async beat(): Promise<BeatReply> {
    const reply = await call(
      this.nc,
      at(authBeat, this.authNode),
      this.credentials(),
      Math.max(500, this.beatMs * 2),
    );
    this.identity?.update(reply.brokerJwt);
    return reply;
  }

  startHeartbeats(): void {
    if (this.timer || this.ended) return;
    this.lastOk = Date.now();
    this.timer = setInterval(() => void this.tick(), this.beatMs);
    // Heartbeats alone do not keep a process running.
    this.timer.unref();
    void this.beatOnReconnect();
  }

  /**
   * A beat made while the broker was away hangs until its timeout: when the
   * connection is back, beat at once. The time it was away does not count
   * against the session (its auth node excuses it too).
   */
  private async beatOnReconnect(): Promise<void> {
    try {
      for await (const s of this.nc.status()) {
        if (this.ended) return;
        if (s.type === "disconnect") this.away = true;
        if (s.type !== "reconnect") continue;
        this.away = false;
        this.lastOk = Date.now();
        this.reconnectedAt = Date.now();
        this.beating = false;
        void this.tick();
      }
    } catch {
      // the connection closed: nothing more to beat on
    }
  }

  stopHeartbeats(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async tick(): Promise<void> {
    if (this.beating || this.ended) return;
    this.beating = true;
    try {
      await this.beat();
      this.lastOk = Date.now();
    } catch (err) {
      if (this.away) return;
      const error = err instanceof ChorusError ? err : new ChorusError("UNAVAILABLE", String(err));
      // The node answered "gone", or nobody answers there (except just after a
      // broker restart, before the node has subscribed again: a missed beat), or
      // beats have failed for longer than the node keeps a session: it is over.
      const settling = Date.now() - this.reconnectedAt < this.expiresAfterMs;
      if (
        error.code === "UNAUTHORIZED" ||
        (error.code === "UNAVAILABLE" && !settling) ||
        Date.now() - this.lastOk > this.expiresAfterMs
      ) {
        this.end(error);
      }
    } finally {
      this.beating = false;
    }
  }

  private end(reason: ChorusError): void {
    if (this.ended) return;
    this.ended = true;
    this.stopHeartbeats();
    for (const handler of this.expiredHandlers) {
      try {
        handler(reason);
      } catch {
        // a handler's failure must not stop the others
      }
    }
  }

  /** Log out, and close the session's own connection (the identity's). */
  async close(): Promise<void> {
    try {
      await this.logout();
    } finally {
      await this.identity?.close();
    }
  }

  /** End the session at its node. Resolves even when the session had already ended there. */
  async logout(): Promise<void> {
    this.stopHeartbeats();
    const wasEnded = this.ended;
    this.ended = true;
    if (wasEnded) return;
    try {
      await call(this.nc, at(authLogout, this.authNode), this.credentials(), 3000);
    } catch (err) {
      if (!(err instanceof ChorusError && ["UNAUTHORIZED", "UNAVAILABLE"].includes(err.code))) {
        throw err;
      }
    }
  }
}

/**
 * Log in with a broker identity of its own: on a public connection first,
 * then on the session's own (`session.nc`); `session.close()` logs out and
 * closes it.
 */
export async function logIn(
  config: ChorusConfig,
  name: string,
  user: string,
  password: string,
  options: Omit<LoginOptions, "identity"> = {},
): Promise<UserSession> {
  const bootstrap = await connectBroker(config, "listener", name);
  const identity = new ClientIdentity(config, name);
  try {
    return await UserSession.login(bootstrap, user, password, { ...options, identity });
  } catch (err) {
    await identity.close();
    throw err;
  } finally {
    await bootstrap.close().catch(() => undefined);
  }
}
