/**
 * The listener's session and source: logging in (again when the session
 * ended), finding a source (a file node), and running a request with them
 * so that a node that is gone or not answering yet, or a session that
 * ended, is replaced and the request tried again — all within one deadline.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { ChorusConfig } from "../../actors/runtime/config.js";
import { ChorusError } from "../../wire/errors.js";
import { UserSession } from "../auth.js";
import type { ClientIdentity } from "../identity.js";
import { MemoryDeviceCookies, type DeviceCookieJar } from "../device-cookies.js";
import { Deadline, retry } from "../retry.js";
import type { Source } from "../source.js";
import type { Credentials, SourceContext, SourceFinder } from "./types.js";

/**
 * How long one listener operation (log in, find a node, list songs, play)
 * may take, retries included: the prime may have to spawn a node first.
 */
export const operationMs = 20_000;

export function isSessionError(err: unknown): boolean {
  return err instanceof ChorusError && err.code === "UNAUTHORIZED";
}

export interface SessionEvents {
  /** The session ended other than by logout (expired, its node gone). */
  ended(reason: ChorusError): void;
  /** Logged in, or found a source: the screen shows both. */
  changed(): void;
}

export class SessionKeeper {
  private session?: UserSession;
  private source?: Source;
  private closed = false;

  constructor(
    /** The connection requests go on: the session's own once logged in. */
    private readonly connection: () => NatsConnection,
    private readonly identity: ClientIdentity,
    private readonly credentials: Credentials,
    private readonly config: ChorusConfig,
    private readonly findSource: SourceFinder,
    private readonly events: SessionEvents,
    /** The device cookies of this player's logins: a re-login is trusted as its first was. */
    private readonly devices: DeviceCookieJar = new MemoryDeviceCookies(),
  ) {}

  /** The user's name as stored once logged in, else as given. */
  get user(): string {
    return this.session?.user ?? this.credentials.user;
  }

  get authNode(): string | undefined {
    return this.session?.authNode;
  }

  get sourceId(): string | undefined {
    return this.source?.id;
  }

  get sourceLabel(): string | undefined {
    return this.source?.label;
  }

  /** The session while it lives, for requests made on the user's behalf. */
  ref(): { authNode: string; sessionId: string; token: string } | undefined {
    const s = this.session;
    return s?.alive ? { authNode: s.authNode, ...s.credentials() } : undefined;
  }

  get stale(): boolean {
    return this.session !== undefined && !this.session.alive;
  }

  async login(deadline: Deadline): Promise<void> {
    const { user, password } = this.credentials;
    const session = await UserSession.login(this.connection(), user, password, {
      deadline,
      identity: this.identity,
      devices: this.devices,
      onExpired: (reason) => {
        if (!this.closed && this.session === session) this.events.ended(reason);
      },
    });
    this.session = session;
    this.events.changed();
  }

  /** What a source needs: logged in again first when the session ended. */
  async context(deadline: Deadline): Promise<SourceContext> {
    if (!this.session?.alive) {
      await this.dropSource();
      await this.login(deadline);
    }
    return { nc: this.connection(), session: this.session as UserSession, config: this.config };
  }

  async ensureSource(deadline: Deadline): Promise<Source> {
    const ctx = await this.context(deadline);
    if (!this.source) {
      this.source = await this.findSource(ctx, deadline);
      this.events.changed();
    }
    return this.source;
  }

  async dropSource(): Promise<void> {
    const source = this.source;
    this.source = undefined;
    await source?.close().catch(() => undefined);
  }

  /** Forget the session (logging it out where it still lives, so no stale session stays). */
  async resetSession(): Promise<void> {
    const old = this.session;
    this.session = undefined;
    await old?.logout().catch(() => undefined);
  }

  /**
   * Run `action` with the source. When the node is gone or not answering
   * yet (a node the prime just spawned subscribes moments after it is
   * announced) or the session ended, start again with a fresh node /
   * session until `deadline`.
   */
  async withSource<T>(
    action: (source: Source, deadline: Deadline) => Promise<T>,
    deadline = new Deadline(operationMs),
  ): Promise<T> {
    return retry(async () => action(await this.ensureSource(deadline), deadline), {
      deadline,
      retryable: (err) => isSessionError(err) || (err instanceof ChorusError && err.retryable),
      beforeRetry: async (err) => {
        if (isSessionError(err)) await this.resetSession();
        await this.dropSource();
      },
      cancelled: () => this.closed,
    });
  }

  /** Log out and let go of the source; each goodbye bounded by `settle`. */
  async close(settle: (goodbye: Promise<void>) => Promise<void>): Promise<void> {
    this.closed = true;
    await settle(this.session?.logout() ?? Promise.resolve());
    await settle(this.dropSource());
  }
}
