/**
 * The broker's decentralized JWT auth (nats-server operator mode with the
 * memory resolver). Every key is derived from the actor secret (HKDF), so
 * every machine that holds it makes the same operator, system account,
 * Chorus account and signing key with nothing more to copy; nothing derived
 * is stored but the public listener JWT.
 *
 * Identities, all users of the Chorus account:
 *  - actor: every node and operator tool; may do everything.
 *  - public: before login; shared by all (a bearer JWT): assign and log in.
 *  - session: one logged-in client's key pair (the client keeps the seed),
 *    minted by its auth node with that session's rights and an expiry that
 *    its heartbeats renew (wire/permissions.ts).
 */
import { hkdfSync } from "node:crypto";
import {
  encodeAccount,
  encodeOperator,
  encodeUser,
  type Permissions as JwtPermissions,
} from "@nats-io/jwt";
import { fromSeed, Prefix, type KeyPair } from "@nats-io/nkeys";
import { Codec } from "@nats-io/nkeys/lib/codec.js";
import { publicPermissions, sessionPermissions, type Permissions } from "../../wire/permissions.js";

export interface BrokerKeys {
  operator: KeyPair;
  system: KeyPair;
  account: KeyPair;
  /** Signs every user JWT (the account's own key only signs nothing). */
  signer: KeyPair;
  actor: KeyPair;
  /** The public identity's key: its seed is not secret (the JWT is a bearer token). */
  public: KeyPair;
}

const cache = new Map<string, BrokerKeys>();

/** The deployment's broker keys, from its actor secret. */
export function brokerKeys(actorSecret: string): BrokerKeys {
  const known = cache.get(actorSecret);
  if (known) return known;
  const derive = (label: string, prefix: Prefix): KeyPair => {
    const raw = new Uint8Array(hkdfSync("sha256", actorSecret, "chorus-broker", label, 32));
    return fromSeed(Codec.encodeSeed(prefix, raw));
  };
  const keys: BrokerKeys = {
    operator: derive("operator", Prefix.Operator),
    system: derive("system-account", Prefix.Account),
    account: derive("chorus-account", Prefix.Account),
    signer: derive("chorus-signing-key", Prefix.Account),
    actor: derive("actor-user", Prefix.User),
    public: derive("public-user", Prefix.User),
  };
  cache.set(actorSecret, keys);
  return keys;
}

/** The part of nats-run.conf that makes the broker trust this deployment's operator. */
export async function trustConf(keys: BrokerKeys): Promise<string> {
  const operator = await encodeOperator("chorus", keys.operator, {
    system_account: keys.system.getPublicKey(),
  });
  const system = await encodeAccount("SYS", keys.system, {}, { signer: keys.operator });
  const account = await encodeAccount(
    "CHORUS",
    keys.account,
    {
      // Limits not given are 0 (JetStream off, no connections): the server's own limits apply.
      limits: {
        ...{ conn: -1, subs: -1, data: -1, payload: -1, leaf: -1, imports: -1, exports: -1 },
        ...{ wildcards: true, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 },
      },
      signing_keys: [keys.signer.getPublicKey()],
    },
    { signer: keys.operator },
  );
  return [
    `operator: ${operator}`,
    `system_account: ${keys.system.getPublicKey()}`,
    "resolver: MEMORY",
    "resolver_preload: {",
    `  ${keys.system.getPublicKey()}: ${system}`,
    `  ${keys.account.getPublicKey()}: ${account}`,
    "}",
  ].join("\n");
}

function jwtPermissions(p: Permissions): Partial<JwtPermissions> {
  return { pub: { allow: p.publish }, sub: { allow: p.subscribe } };
}

function mintUser(
  keys: BrokerKeys,
  name: string,
  user: string,
  claims: Parameters<typeof encodeUser>[3],
  exp?: number,
): Promise<string> {
  return encodeUser(name, user, keys.account.getPublicKey(), claims, {
    signer: keys.signer,
    ...(exp !== undefined ? { exp } : {}),
  });
}

export function actorJwt(keys: BrokerKeys): Promise<string> {
  return mintUser(keys, "actor", keys.actor.getPublicKey(), {});
}

export function publicJwt(keys: BrokerKeys): Promise<string> {
  return mintUser(keys, "public", keys.public.getPublicKey(), {
    bearer_token: true,
    ...jwtPermissions(publicPermissions()),
    // A few connections' worth of requests; nothing a stranger sends is large.
    subs: 100,
    payload: 16 * 1024,
  });
}

/** Limits of one session's identity: a player needs a few dozen subscriptions. */
const sessionSubs = 500;
const sessionPayload = 1024 * 1024;

/** A session's broker identity for the client key `clientId`, valid until `expiresAtMs`. */
export function sessionJwt(
  keys: BrokerKeys,
  clientId: string,
  user: string,
  expiresAtMs: number,
): Promise<string> {
  return mintUser(
    keys,
    user,
    clientId,
    { ...jwtPermissions(sessionPermissions(clientId)), subs: sessionSubs, payload: sessionPayload },
    Math.ceil(expiresAtMs / 1000),
  );
}
