/**
 * The auth node's endpoints (served in actors/auth/node.ts, called by
 * client/auth.ts and file nodes). A login's token comes back sealed to the
 * public key the client sent, since every listener can read reply inboxes.
 */
import { z } from "zod";
import { declare } from "./contract.js";
import { clientIdSchema } from "./ids.js";
import { sessionCredentialsSchema } from "./session.js";

export const minPasswordLength = 8;
export const maxPasswordLength = 1024;
/** Largest login body accepted; anything bigger is refused before parsing. */
export const maxLoginBody = 8 * 1024;
const maxSessionBody = 1024;

const b64url = z.string().regex(/^[A-Za-z0-9_-]+$/);

/** An X25519 public key: 32 raw bytes, base64url. */
export const publicKeySchema = b64url.length(43);

/** A secret sealed to a public key (actors/auth/seal.ts). */
export const sealedSchema = z.object({
  /** The sender's ephemeral X25519 public key (raw, base64url). */
  key: b64url.length(43),
  iv: b64url.length(16),
  /** Ciphertext followed by the 16-byte GCM tag, base64url. */
  data: b64url.max(4096),
});
export type Sealed = z.infer<typeof sealedSchema>;

/**
 * A device cookie (actors/auth/device-cookie.ts): opaque to clients, bounded.
 * Any string within the bound is accepted; one that does not verify only
 * leaves the login untrusted, and says nothing about why.
 */
export const maxDeviceCookieLength = 256;
export const deviceCookieSchema = z
  .string()
  .max(maxDeviceCookieLength, `device cookie is longer than ${maxDeviceCookieLength} characters`);

/**
 * What `password` holds: the user's password (checked with argon2), an
 * OpenSubsonic API key (`user` may be empty: the key names its user), or a
 * Subsonic token `md5(app password + salt)` with its `salt`.
 */
export const loginMethods = ["password", "apiKey", "token"] as const;
export type LoginMethod = (typeof loginMethods)[number];

export const loginRequestSchema = z.object({
  user: z.string().max(256, "user name is too long"),
  password: z.string().min(1, "password is empty").max(maxPasswordLength, "password is too long"),
  method: z.enum(loginMethods).optional(),
  /** The token's salt (method `token`). */
  salt: z.string().min(1).max(256).optional(),
  /** The client's fresh X25519 public key; the token comes back sealed to it. */
  publicKey: publicKeySchema,
  /** The slot the prime reserved for this client (optional: a node with room accepts without). */
  claim: z.string().max(64).optional(),
  /** The public key of the user nkey the client made: its session's broker identity is minted for it. */
  clientKey: clientIdSchema,
  /** The device cookie an earlier login as this user returned; one that does not verify is ignored. */
  deviceCookie: deviceCookieSchema.optional(),
});
export type LoginRequest = z.infer<typeof loginRequestSchema>;

export const loginReplySchema = z.object({
  sessionId: z.string(),
  /** The user's name as stored (its original spelling). */
  user: z.string(),
  /** The token, sealed: open with openSealed(key, sealed, tokenAad(node, sessionId)). */
  sealed: sealedSchema,
  /** Beat at this interval; the session ends after `expiresAfterMs` without a beat. */
  beatMs: z.number().int().positive(),
  expiresAfterMs: z.number().int().positive(),
  /** The session's broker identity for the client key (only the client has its seed). */
  brokerJwt: z.string().max(8192).optional(),
  /** A device cookie for this user, sealed like the token: open with deviceCookieAad(node, sessionId). */
  deviceCookie: sealedSchema.optional(),
});
export type LoginReply = z.infer<typeof loginReplySchema>;

export const beatReplySchema = z.object({
  expiresAfterMs: z.number().int().positive(),
  /** A renewed broker identity, when the one the client has nears its expiry. */
  brokerJwt: z.string().max(8192).optional(),
});
export type BeatReply = z.infer<typeof beatReplySchema>;

/** The user's name as stored. */
export const verifyReplySchema = z.object({
  user: z.string(),
  /** The session's client id (its broker identity and P2P host id). */
  client: clientIdSchema,
});
export type VerifyReply = z.infer<typeof verifyReplySchema>;

/** Binds a sealed token to the node and session it was issued for. */
export function tokenAad(authNode: string, sessionId: string): string {
  return `login|${authNode}|${sessionId}`;
}

/** Binds a sealed device cookie to the node and session it was issued with. */
export function deviceCookieAad(authNode: string, sessionId: string): string {
  return `device-cookie|${authNode}|${sessionId}`;
}

export const authLogin = declare({
  name: "auth-login",
  subject: "chorus.auth.<id>.login",
  request: loginRequestSchema,
  reply: loginReplySchema,
  callers: "anyone",
  maxBody: maxLoginBody,
  publishers: "clients",
  listeners: "that auth node",
  what: "log in (with the prime's claim); the token comes back sealed to the client's key",
});

export const authBeat = declare({
  name: "auth-beat",
  subject: "chorus.auth.<id>.beat",
  request: sessionCredentialsSchema,
  reply: beatReplySchema,
  callers: "listener",
  maxBody: maxSessionBody,
  publishers: "logged-in clients",
  listeners: "that auth node",
  what: "session heartbeat; UNAUTHORIZED when the session is gone",
});

export const authLogout = declare({
  name: "auth-logout",
  subject: "chorus.auth.<id>.logout",
  request: sessionCredentialsSchema,
  reply: z.object({}),
  callers: "listener",
  maxBody: maxSessionBody,
  publishers: "logged-in clients",
  listeners: "that auth node",
  what: "end a session",
});

export const authVerify = declare({
  name: "auth-verify",
  subject: "chorus.auth.<id>.verify",
  request: sessionCredentialsSchema,
  reply: verifyReplySchema,
  callers: "actor",
  maxBody: maxSessionBody,
  publishers: "file nodes, the prime (actors only)",
  listeners: "that auth node",
  what: "is this session alive? answers the user's name",
});

/**
 * Check another credential of a session's own user without a new session:
 * a gateway whose Subsonic client sends a fresh token salt with every
 * request asks this of the auth node holding the user's session.
 */
export const checkRequestSchema = sessionCredentialsSchema.extend({
  method: z.enum(loginMethods),
  password: loginRequestSchema.shape.password,
  salt: z.string().min(1).max(256).optional(),
  /** The device cookie this client's last login as the user returned (not for API keys). */
  deviceCookie: deviceCookieSchema.optional(),
});
export type CheckRequest = z.infer<typeof checkRequestSchema>;

export const authCheck = declare({
  name: "auth-check",
  subject: "chorus.auth.<id>.check",
  request: checkRequestSchema,
  reply: z.object({}),
  callers: "listener",
  maxBody: maxLoginBody,
  publishers: "logged-in clients (the HTTP gateway)",
  listeners: "that auth node",
  what: "does this password, API key or token belong to the session's user? (throttled like logins)",
});
