/**
 * The auth protocol, shared by auth nodes and clients (client/auth.ts):
 *
 *   chorus.prime.assign {kind:"auth"}          → {node, claim}
 *   chorus.auth.<node>.login  LoginRequest     → LoginReply (token sealed to publicKey)
 *   chorus.auth.<node>.beat   SessionRequest   → BeatReply, or UNAUTHORIZED when the session is gone
 *   chorus.auth.<node>.logout SessionRequest   → {}
 *   chorus.auth.<node>.verify SessionRequest   → VerifyReply (actors only; the broker
 *                                                 refuses it from listeners)
 */
import { z } from "zod";
import { maxPasswordLength } from "../actors/auth/passwords.js";
import { publicKeySchema, sealedSchema } from "../actors/auth/seal.js";

/** Largest login body accepted; anything bigger is refused before parsing. */
export const maxLoginBody = 8 * 1024;

export const loginRequestSchema = z.object({
  user: z.string().max(256, "user name is too long"),
  password: z.string().min(1, "password is empty").max(maxPasswordLength, "password is too long"),
  /** The client's fresh X25519 public key; the token comes back sealed to it. */
  publicKey: publicKeySchema,
  /** The slot the prime reserved for this client (optional: a node with room accepts without). */
  claim: z.string().max(64).optional(),
});
export type LoginRequest = z.infer<typeof loginRequestSchema>;

export interface LoginReply {
  sessionId: string;
  /** The user's name as stored (its original spelling). */
  user: string;
  /** The token, sealed: open with openSealed(key, sealed, tokenAad(node, sessionId)). */
  sealed: z.infer<typeof sealedSchema>;
  /** Beat at this interval; the session ends after `expiresAfterMs` without a beat. */
  beatMs: number;
  expiresAfterMs: number;
}
export const loginReplySchema = z.object({
  sessionId: z.string(),
  user: z.string(),
  sealed: sealedSchema,
  beatMs: z.number().int().positive(),
  expiresAfterMs: z.number().int().positive(),
});

export const sessionRequestSchema = z.object({
  sessionId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "sessionId is not a session id"),
  token: z.string().min(1).max(256),
});
export type SessionRequest = z.infer<typeof sessionRequestSchema>;

export interface BeatReply {
  expiresAfterMs: number;
}

export interface VerifyReply {
  /** The user's name as stored. */
  user: string;
}

/** Binds a sealed token to the node and session it was issued for. */
export function tokenAad(authNode: string, sessionId: string): string {
  return `login|${authNode}|${sessionId}`;
}
