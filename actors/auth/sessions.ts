/**
 * Live sessions of one auth node. A session id is public; the token is a
 * random 256-bit secret of which only a SHA-256 digest is kept, compared in
 * constant time. Sessions end on logout or after `expiresAfterMs` without a
 * heartbeat.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { ChorusError } from "../../wire/errors.js";

export interface Session {
  id: string;
  /** The user's key (names.ts) and name as stored. */
  userKey: string;
  user: string;
  digest: Buffer;
  createdAt: number;
  lastBeat: number;
  /** The client's broker identity (a user nkey) and when the newest JWT minted for it expires. */
  clientId: string;
  brokerExpiresAt: number;
}

const digestOf = (token: string): Buffer => createHash("sha256").update(token, "utf8").digest();

export function unauthorized(): ChorusError {
  return new ChorusError(
    "UNAUTHORIZED",
    "session is not valid (expired, ended or forged): log in again",
  );
}

export class SessionTable {
  private readonly sessions = new Map<string, Session>();

  constructor(
    readonly expiresAfterMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  /** A new session for a user; returns it with its token (the only time the token exists here). */
  open(userKey: string, user: string, clientId: string): { session: Session; token: string } {
    const token = randomBytes(32).toString("base64url");
    const now = this.now();
    const session: Session = {
      id: randomBytes(16).toString("base64url"),
      userKey,
      user,
      digest: digestOf(token),
      createdAt: now,
      lastBeat: now,
      clientId,
      brokerExpiresAt: 0,
    };
    this.sessions.set(session.id, session);
    return { session, token };
  }

  /** The live session `id` if `token` is its token; UNAUTHORIZED otherwise (same error for every case). */
  check(id: string, token: string): Session {
    const session = this.sessions.get(id);
    const digest = digestOf(token);
    if (!session || !timingSafeEqual(session.digest, digest)) throw unauthorized();
    if (this.now() - session.lastBeat > this.expiresAfterMs) {
      this.sessions.delete(id);
      throw unauthorized();
    }
    return session;
  }

  beat(id: string, token: string): Session {
    const session = this.check(id, token);
    session.lastBeat = this.now();
    return session;
  }

  close(id: string, token: string): Session {
    const session = this.check(id, token);
    this.sessions.delete(id);
    return session;
  }

  /** Forget a session at once (used when its login could not complete). */
  drop(id: string): void {
    this.sessions.delete(id);
  }

  /**
   * Our own broker connection was down: no beat could reach us, so the
   * silence proves nothing. Every session gets a full expiry from now.
   */
  excuseSilence(): void {
    const now = this.now();
    for (const s of this.sessions.values()) s.lastBeat = Math.max(s.lastBeat, now);
  }

  /** Drop sessions whose beats stopped; returns how many ended. */
  sweep(): number {
    const now = this.now();
    let ended = 0;
    for (const [id, s] of this.sessions) {
      if (now - s.lastBeat > this.expiresAfterMs) {
        this.sessions.delete(id);
        ended++;
      }
    }
    return ended;
  }
}
