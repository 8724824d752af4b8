/**
 * Whether a session a listener presents is alive: one request to the auth
 * node that holds it (listeners may not ask). File nodes and the prime use
 * this before they serve a listener.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { authVerify } from "../../wire/auth.js";
import { at } from "../../wire/contract.js";
import { ChorusError } from "../../wire/errors.js";
import { sessionInboxPrefix } from "../../wire/permissions.js";
import type { Session } from "../../wire/session.js";
import { call } from "./endpoint.js";

/** The verify request for a session, at its auth node. */
export function verifyCall(nc: NatsConnection, session: Session, timeoutMs: number) {
  const credentials = { sessionId: session.sessionId, token: session.token };
  return call(nc, at(authVerify, session.authNode), credentials, timeoutMs);
}

export interface VerifiedSession {
  user: string;
  /** The client id of the session's broker identity. */
  client: string;
}

/** The session's user and client id; UNAUTHORIZED unless its auth node vouches for it now. */
export async function verifySession(
  nc: NatsConnection,
  session: Session,
  timeoutMs: number,
): Promise<VerifiedSession> {
  try {
    return await verifyCall(nc, session, timeoutMs);
  } catch (err) {
    if (err instanceof ChorusError && err.code === "TIMEOUT") {
      throw new ChorusError("UNAVAILABLE", "the session's auth node did not answer; try again");
    }
    throw new ChorusError("UNAUTHORIZED", "no live session: log in again", { cause: err });
  }
}

/**
 * Audio and relay frames go only into the inbox of the session that asked:
 * its own identity's prefix (another client's inbox would be flooded).
 */
export function checkDeliver(verified: VerifiedSession, deliver: string): void {
  if (!deliver.startsWith(`${sessionInboxPrefix(verified.client)}.`)) {
    throw new ChorusError("FORBIDDEN", "deliver: not an inbox of this session's connection");
  }
}
