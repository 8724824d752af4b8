/**
 * A client's broker identity: a user nkey made here (its seed never leaves
 * this process) and the newest JWT an auth node minted for it at login or on
 * a heartbeat. The session connection opens with it once the first JWT
 * arrives and reconnects with the newest one, so one connection serves every
 * session of this client (a new login after a lost auth node sends the same
 * key and keeps it).
 */
import { createUser } from "@nats-io/nkeys";
import { jwtAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import type { ChorusConfig } from "../actors/runtime/config.js";
import { connectAs } from "../actors/runtime/connect.js";
import { ChorusError } from "../wire/errors.js";
import { sessionInboxPrefix } from "../wire/permissions.js";

export class ClientIdentity {
  private readonly key = createUser();
  /** The key's public half: the session's client id and its P2P host id. */
  readonly clientId = this.key.getPublicKey();
  private jwt?: string;
  private opening?: Promise<NatsConnection>;
  private nc?: NatsConnection;

  constructor(
    private readonly config: ChorusConfig,
    private readonly name: string,
  ) {}

  /** Keep a newly minted JWT: the next (re)connect presents it. */
  update(jwt: string | undefined): void {
    if (jwt) this.jwt = jwt;
  }

  /** The session connection, once open. */
  get connection(): NatsConnection | undefined {
    return this.nc && !this.nc.isClosed() ? this.nc : undefined;
  }

  /** Open the session connection (once; after the first login). */
  connect(): Promise<NatsConnection> {
    if (this.connection) return Promise.resolve(this.connection);
    if (!this.jwt) {
      return Promise.reject(new ChorusError("INTERNAL", "no broker identity: log in first"));
    }
    this.opening ??= connectAs(
      this.config,
      {
        authenticator: (nonce) => jwtAuthenticator(this.jwt as string, this.key.getSeed())(nonce),
        inboxPrefix: sessionInboxPrefix(this.clientId),
        hint: "log in again",
      },
      this.name,
    ).then(
      (nc) => {
        this.nc = nc;
        this.opening = undefined;
        return nc;
      },
      (err: unknown) => {
        this.opening = undefined;
        throw err;
      },
    );
    return this.opening;
  }

  async close(): Promise<void> {
    await this.nc?.close().catch(() => undefined);
  }
}
