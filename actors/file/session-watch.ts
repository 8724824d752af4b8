/**
 * Sessions, as a file node sees them: a request's session is verified with
 * one request to its auth node (`chorus.auth.<node>.verify`), and every beat
 * the sessions of all live streams are verified again. A session the auth
 * node refuses (logged out, expired) ends its streams at once. An auth node
 * that is gone (nobody answers, or no answer for `missedBeats` beats in a
 * row) orphans its sessions' streams: they play on for `orphanGraceMs`, so
 * the listener can log in elsewhere and rebind them (control `rebind`),
 * and end then if nobody did. Only the holder of the old session's token
 * can keep using or rebind an orphan, to a live session of the same user.
 */
import type { Actor } from "../runtime/actor.js";
import { ChorusError } from "../../wire/errors.js";
import type { ListenerStream } from "./listener-stream.js";
import type { Session } from "../../wire/session.js";
import { verifyCall, verifySession, type VerifiedSession } from "../runtime/verify-session.js";

/** Errors after which a session is certainly dead (not just slow to answer). */
const deadCodes = new Set(["UNAUTHORIZED", "UNAVAILABLE", "NOT_FOUND", "FORBIDDEN", "BAD_REQUEST"]);

/**
 * How long a stream whose session's auth node is gone plays on, waiting for
 * its listener's rebind: time to notice, be given another auth node (maybe a
 * new one spawned) and log in there. Bounded: an orphan holds one slot and
 * stays a window ahead of its listener, like any stream.
 */
export const orphanGraceMs = 10_000;

export class SessionWatch {
  private timer?: NodeJS.Timeout;
  private readonly misses = new Map<string, number>();
  private checking = false;
  /** While our own broker connection is down (and a grace time after), silence proves nothing. */
  private connected = true;
  private graceUntil = 0;

  constructor(
    private readonly actor: Actor,
    private readonly streams: () => Iterable<ListenerStream>,
    private readonly endStream: (stream: ListenerStream, why: string) => void,
  ) {}

  /** The session's user and client; UNAUTHORIZED unless its auth node vouches for it now. */
  verify(session: Session): Promise<VerifiedSession> {
    return verifySession(this.actor.nc, session, this.timeoutMs());
  }

  start(): void {
    this.timer = setInterval(() => void this.checkAll(), this.actor.config.heartbeatMs);
    void this.watchConnection();
  }

  private async watchConnection(): Promise<void> {
    for await (const s of this.actor.nc.status()) {
      if (s.type === "disconnect") this.connected = false;
      if (s.type === "reconnect") {
        this.connected = true;
        const { heartbeatMs, missedBeats } = this.actor.config;
        this.graceUntil = Date.now() + heartbeatMs * missedBeats;
      }
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private timeoutMs(): number {
    return Math.max(500, this.actor.config.heartbeatMs);
  }

  /** Verify each distinct session of the live streams once. */
  private async checkAll(): Promise<void> {
    if (this.checking || !this.connected) return;
    this.checking = true;
    try {
      const bySession = new Map<string, ListenerStream[]>();
      for (const stream of this.streams()) {
        const key = `${stream.session.authNode}/${stream.session.sessionId}`;
        const list = bySession.get(key) ?? [];
        list.push(stream);
        bySession.set(key, list);
      }
      for (const key of this.misses.keys()) if (!bySession.has(key)) this.misses.delete(key);
      await Promise.all(
        [...bySession].map(([key, list]) => this.checkOne(key, list as [ListenerStream])),
      );
    } catch (err) {
      this.actor.log.warn("session check failed", { error: String(err) });
    } finally {
      this.checking = false;
    }
  }

  private async checkOne(
    key: string,
    streams: [ListenerStream, ...ListenerStream[]],
  ): Promise<void> {
    const { session } = streams[0];
    try {
      await verifyCall(this.actor.nc, session, this.timeoutMs());
      this.misses.delete(key);
      for (const stream of streams) stream.orphanedSince = undefined;
      return;
    } catch (err) {
      let code = err instanceof ChorusError ? err.code : "INTERNAL";
      // Just after our reconnect, the auth node may not have resubscribed yet.
      if (code === "UNAVAILABLE" && Date.now() < this.graceUntil) code = "TIMEOUT";
      const misses = (this.misses.get(key) ?? 0) + 1;
      this.misses.set(key, misses);
      if (!deadCodes.has(code) && misses < this.actor.config.missedBeats) return;
      // Refused: the session is over. Gone or silent: its listener may come back with another.
      if (deadCodes.has(code) && code !== "UNAVAILABLE") {
        for (const stream of streams) this.endStream(stream, "the session ended");
        return;
      }
      const now = Date.now();
      for (const stream of streams) {
        if (stream.orphanedSince === undefined) {
          stream.orphanedSince = now;
          this.actor.log.info("stream orphaned: its session's auth node is gone", {
            stream: stream.id,
            user: stream.user,
          });
        } else if (now - stream.orphanedSince > orphanGraceMs) {
          this.endStream(stream, "the session's auth node is gone");
        }
      }
    }
  }
}
