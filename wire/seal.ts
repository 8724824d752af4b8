/**
 * Sealing secrets that travel through reply inboxes. Every listener may
 * subscribe to `_INBOX.>`, so a login reply is readable by all of them: the
 * client sends a fresh X25519 public key with its login, and the node returns
 * the token sealed to it (ECDH with the node's own fresh key, HKDF-SHA256,
 * AES-256-GCM). Only the holder of the client's private key can open it.
 */
import {
  createCipheriv,
  createDecipheriv,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from "node:crypto";
import type { Sealed } from "./auth.js";
import { ChorusError } from "./errors.js";
import { newOkpKeyPair } from "./okp-keys.js";

export interface EphemeralKey {
  publicKey: string;
  privateKey: KeyObject;
}

export function newEphemeralKey(): EphemeralKey {
  return newOkpKeyPair("x25519");
}

/** Throws BAD_REQUEST unless `raw` is an X25519 public key (checked before any work is done for it). */
export function checkPublicKey(raw: string): void {
  importPublic(raw);
}

function importPublic(raw: string): KeyObject {
  try {
    return createPublicKey({ key: { kty: "OKP", crv: "X25519", x: raw }, format: "jwk" });
  } catch {
    throw new ChorusError("BAD_REQUEST", "publicKey is not an X25519 public key");
  }
}

function keyFor(privateKey: KeyObject, peerPublic: string, info: string): Buffer {
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey, publicKey: importPublic(peerPublic) });
  } catch (err) {
    if (err instanceof ChorusError) throw err;
    throw new ChorusError("BAD_REQUEST", "publicKey is not a usable X25519 public key");
  }
  // Low-order points give an all-zero secret: refuse rather than encrypt under it.
  if (shared.every((b) => b === 0)) {
    throw new ChorusError("BAD_REQUEST", "publicKey is not a usable X25519 public key");
  }
  return Buffer.from(hkdfSync("sha256", shared, Buffer.alloc(0), info, 32));
}

const context = (aad: string, a: string, b: string): string => `chorus-seal-v1|${aad}|${a}|${b}`;

/** Seal `plaintext` so that only the owner of `recipientPublic` can read it. */
export function sealTo(recipientPublic: string, plaintext: string, aad: string): Sealed {
  const mine = newEphemeralKey();
  const info = context(aad, recipientPublic, mine.publicKey);
  const key = keyFor(mine.privateKey, recipientPublic, info);
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(info));
  const data = Buffer.concat([
    cipher.update(plaintext, "utf8"),
    cipher.final(),
    cipher.getAuthTag(),
  ]);
  return { key: mine.publicKey, iv: iv.toString("base64url"), data: data.toString("base64url") };
}

/** Open what `sealTo` sealed for `mine`; throws when it was tampered with. */
export function openSealed(mine: EphemeralKey, sealed: Sealed, aad: string): string {
  const info = context(aad, mine.publicKey, sealed.key);
  const key = keyFor(mine.privateKey, sealed.key, info);
  const bytes = Buffer.from(sealed.data, "base64url");
  if (bytes.length < 16) throw new ChorusError("INTERNAL", "sealed data is too short");
  const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(sealed.iv, "base64url"));
  decipher.setAAD(Buffer.from(info));
  decipher.setAuthTag(bytes.subarray(bytes.length - 16));
  try {
    return Buffer.concat([
      decipher.update(bytes.subarray(0, bytes.length - 16)),
      decipher.final(),
    ]).toString("utf8");
  } catch {
    throw new ChorusError("INTERNAL", "sealed data does not open (tampered or not for us)");
  }
}

/**
 * Symmetric sealing of user events with a key only actors have: derived from
 * the actor role's broker password, which every actor of a deployment shares
 * and listeners never see. Pull deliveries reach actors through `_INBOX.`
 * subjects, which listeners may read, and events carry password hashes.
 */
export class EventKey {
  private readonly key: Buffer;

  constructor(actorSecret: string) {
    this.key = Buffer.from(hkdfSync("sha256", actorSecret, "chorus", "chorus user events v1", 32));
  }

  seal(plaintext: string): { iv: string; data: string } {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    const data = Buffer.concat([
      cipher.update(plaintext, "utf8"),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    return { iv: iv.toString("base64url"), data: data.toString("base64url") };
  }

  /** The plaintext, or undefined when it was sealed under another key or altered. */
  open(sealed: { iv: string; data: string }): string | undefined {
    try {
      const bytes = Buffer.from(sealed.data, "base64url");
      const decipher = createDecipheriv(
        "aes-256-gcm",
        this.key,
        Buffer.from(sealed.iv, "base64url"),
      );
      decipher.setAuthTag(bytes.subarray(bytes.length - 16));
      return Buffer.concat([
        decipher.update(bytes.subarray(0, bytes.length - 16)),
        decipher.final(),
      ]).toString("utf8");
    } catch {
      return undefined;
    }
  }
}
