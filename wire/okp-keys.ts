/**
 * Fresh X25519 and Ed25519 key pairs, made without `generateKeyPairSync`.
 *
 * On Node 20, a key-generation job that the garbage collector finalises while
 * a key is being exported deadlocks the process: the main thread waits
 * forever on a mutex in `~KeyGenJob`, called from a GC inside `ExportJWK`
 * (seen in the test process during a burst of logins: the whole process
 * stops, timers included). A private key built from 32 random bytes in the
 * PKCS #8 form of RFC 8410 involves no job, and is as good a key: for both
 * curves any 32 bytes are a valid private key.
 */
import { createPrivateKey, createPublicKey, randomBytes, type KeyObject } from "node:crypto";

/** PKCS #8 DER before the 32 raw private-key bytes, by curve (RFC 8410). */
const pkcs8Prefix = {
  x25519: Buffer.from("302e020100300506032b656e04220420", "hex"),
  ed25519: Buffer.from("302e020100300506032b657004220420", "hex"),
} as const;

export interface OkpKeyPair {
  /** The raw public key, base64url (the JWK `x`). */
  publicKey: string;
  privateKey: KeyObject;
}

export function newOkpKeyPair(curve: keyof typeof pkcs8Prefix): OkpKeyPair {
  const privateKey = createPrivateKey({
    key: Buffer.concat([pkcs8Prefix[curve], randomBytes(32)]),
    format: "der",
    type: "pkcs8",
  });
  const { x } = createPublicKey(privateKey).export({ format: "jwk" });
  if (!x) throw new Error(`${curve} key without x`);
  return { publicKey: x, privateKey };
}
