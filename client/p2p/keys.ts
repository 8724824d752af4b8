/** A P2P host's signing keys: Ed25519, made fresh for each run. */
import type { KeyObject } from "node:crypto";
import { newOkpKeyPair } from "../../wire/okp-keys.js";

export interface HostKeys {
  /** base64url of the raw public key. */
  publicKey: string;
  privateKey: KeyObject;
}

export function newHostKeys(): HostKeys {
  return newOkpKeyPair("ed25519");
}
