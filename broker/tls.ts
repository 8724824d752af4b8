/**
 * TLS between machines. Cluster routes always use TLS, each side verifying
 * the other's certificate; client connections use it when the broker listens
 * on a network address (or with `tls: on`), and clients verify the broker.
 *
 * Nothing new to copy to a machine that holds the actor secret: each derives
 * the same CA key from it (HKDF into a P-256 key), makes its own self-signed
 * CA certificate from that key (the same name everywhere; dates and serial
 * may differ, verification uses the name and the key) and its own broker
 * certificate for its addresses, signed by that key, with the openssl
 * command. A machine without the secret (a player's) is given the CA
 * certificate, a public file, with `--ca`.
 *
 * Files, in DATA/tls (mode 700, files 600): ca.pem, broker.pem and
 * broker-key.pem, made again when missing, when the secret or the
 * addresses change, or when they near their end.
 */
import { execFileSync } from "node:child_process";
import {
  createECDH,
  createHash,
  createPrivateKey,
  createPublicKey,
  hkdfSync,
  randomBytes,
  X509Certificate,
  type KeyObject,
} from "node:crypto";
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { hostname, networkInterfaces } from "node:os";
import path from "node:path";
import type { TlsOptions } from "@nats-io/transport-node";
import type { ChorusConfig } from "../actors/runtime/config.js";
import {
  actorPasswordOf,
  hostIdOf,
  knownActorSecret,
  privateFolder,
} from "../actors/runtime/identity.js";
import { ChorusError } from "../wire/errors.js";

/** P-256's group order n. */
const p256Order = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const caDays = 20 * 365;
const brokerDays = 825;
/** Certificates are made again when they have less than this left. */
const renewBeforeMs = { ca: 365 * 86_400_000, broker: 30 * 86_400_000 };
/** nats-server's TLS handshake limit (its default, 0.5 s, is short for a loaded machine). */
const handshakeTimeoutS = 2;

const b64url = (bytes: Buffer): string => bytes.toString("base64url");

/**
 * The deployment's CA key: the same on every machine with the same actor
 * secret. 48 bytes of HKDF-SHA256 are reduced into [1, n-1] (FIPS 186-5
 * A.2.1: 64 extra bits make the bias negligible) and imported as a JWK.
 */
export function caKeyOf(secret: string): KeyObject {
  const bits = Buffer.from(
    hkdfSync("sha256", secret, "chorus tls", "broker CA key, P-256, v1", 48),
  );
  const d = (BigInt(`0x${bits.toString("hex")}`) % (p256Order - 1n)) + 1n;
  const scalar = Buffer.from(d.toString(16).padStart(64, "0"), "hex");
  const ecdh = createECDH("prime256v1");
  ecdh.setPrivateKey(scalar);
  const point = ecdh.getPublicKey(); // 0x04 ‖ x ‖ y
  return createPrivateKey({
    format: "jwk",
    key: {
      kty: "EC",
      crv: "P-256",
      d: b64url(scalar),
      x: b64url(point.subarray(1, 33)),
      y: b64url(point.subarray(33)),
    },
  });
}

/** The CA's name: the same on every machine of a deployment, different between deployments. */
const spkiOf = (key: KeyObject): Buffer =>
  (key.type === "public" ? key : createPublicKey(key)).export({ type: "spki", format: "der" });

function caNameOf(key: KeyObject): string {
  const spki = spkiOf(key);
  return `Chorus broker CA ${createHash("sha256").update(spki).digest("hex").slice(0, 16)}`;
}

function tlsFolder(config: ChorusConfig): string {
  privateFolder(config.data);
  return privateFolder(path.join(config.data, "tls"));
}

function readIfThere(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    return undefined;
  }
}

/** Replace a file in one step (a reader never sees half of it), mode 600. */
function writePrivate(file: string, text: string): void {
  const next = `${file}.${process.pid}.new`;
  writeFileSync(next, text, { mode: 0o600 });
  renameSync(next, file);
}

function lasts(cert: X509Certificate, ms: number): boolean {
  return new Date(cert.validTo).getTime() - Date.now() > ms;
}

/**
 * Run openssl in a fresh private folder that holds its configuration and
 * the CA key. The key is written encrypted with a one-time passphrase, given
 * on stdin: it never reaches the disk in clear. (openssl cannot read the key
 * itself from stdin: Node's pipes are sockets, and /dev/stdin won't open.)
 */
function openssl(
  folder: string,
  conf: string,
  args: (files: { conf: string; caKey: string; newKey: string }) => string[],
  caKey: KeyObject,
): { cert: string; newKey?: string } {
  const dir = mkdtempSync(path.join(folder, ".make-"));
  const files = {
    conf: path.join(dir, "openssl.cnf"),
    caKey: path.join(dir, "ca-key.pem"),
    newKey: path.join(dir, "key.pem"),
  };
  const passphrase = randomBytes(24).toString("base64url");
  try {
    writeFileSync(files.conf, conf, { mode: 0o600 });
    const encrypted = caKey.export({
      type: "pkcs8",
      format: "pem",
      cipher: "aes-256-cbc",
      passphrase,
    });
    writeFileSync(files.caKey, encrypted, { mode: 0o600 });
    const cert = execFileSync("openssl", [...args(files), "-passin", "stdin"], {
      input: `${passphrase}\n`,
      encoding: "utf8",
      stdio: ["pipe", "pipe", "pipe"],
    });
    return { cert, newKey: readIfThere(files.newKey) };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === "ENOENT") {
      throw new ChorusError(
        "UNAVAILABLE",
        "TLS between machines needs the openssl command (Debian: apt-get install openssl)",
      );
    }
    throw new ChorusError("INTERNAL", `openssl failed: ${(e.stderr ?? e.message).trim()}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const opensslBase = ["[req]", "distinguished_name = dn", "[dn]"];

/** This machine's CA certificate (DATA/tls/ca.pem), made from the key when missing or stale. */
function caCertificate(config: ChorusConfig, key: KeyObject): { file: string; pem: string } {
  const folder = tlsFolder(config);
  const file = path.join(folder, "ca.pem");
  const name = caNameOf(key);
  const kept = readIfThere(file);
  if (kept && isCaOf(kept, key, name)) return { file, pem: kept };
  const conf = [
    ...opensslBase,
    "[ca]",
    "basicConstraints = critical,CA:TRUE,pathlen:0",
    "keyUsage = critical,keyCertSign,cRLSign",
    "subjectKeyIdentifier = hash",
  ].join("\n");
  const { cert } = openssl(
    folder,
    conf,
    (f) => [
      ...["req", "-x509", "-new", "-config", f.conf, "-extensions", "ca", "-key", f.caKey],
      ...["-subj", `/O=Chorus/CN=${name}`, "-days", String(caDays)],
    ],
    key,
  );
  writePrivate(file, cert);
  return { file, pem: cert };
}

function isCaOf(pem: string, key: KeyObject, name: string): boolean {
  try {
    const cert = new X509Certificate(pem);
    return (
      cert.ca &&
      cert.subject === `O=Chorus\nCN=${name}` &&
      spkiOf(cert.publicKey).equals(spkiOf(key)) &&
      lasts(cert, renewBeforeMs.ca)
    );
  } catch {
    return false;
  }
}

/**
 * The deployment's CA certificate, the one thing a client needs to verify
 * a broker: the file `caFile` names, or else this machine's, made from the
 * actor secret. Throws when the machine has neither.
 */
export function caCertificatePem(config: ChorusConfig): string {
  if (config.caFile) {
    let pem: string;
    try {
      pem = readFileSync(config.caFile, "utf8");
      new X509Certificate(pem);
    } catch (err) {
      throw new ChorusError(
        "BAD_REQUEST",
        `cannot read the CA certificate ${config.caFile} (--ca): ${(err as Error).message}`,
      );
    }
    return pem;
  }
  const secret = knownActorSecret(config);
  if (secret) return caCertificate(config, caKeyOf(secret)).pem;
  throw new ChorusError(
    "BAD_REQUEST",
    "TLS to the broker needs the deployment's CA certificate, and this machine has no actor " +
      "secret to make it from: copy DATA/tls/ca.pem from a broker's machine and give it with " +
      "--ca FILE (or CHORUS_CA)",
  );
}

function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^(::ffff:)?127\.\d+\.\d+\.\d+$/.test(h);
}

const wildcard = (host: string): boolean => host === "" || host === "0.0.0.0" || host === "::";

/**
 * Does a broker listening on `host`, or a client connecting to it, use TLS?
 * Loopback stays in clear (unless `tls: on`): its traffic never leaves the
 * machine, and whoever can read it there can read the data folder, actor
 * secret included; TLS would only cost every connection a handshake and
 * every audio chunk its encryption.
 */
export function usesTls(config: ChorusConfig, host: string): boolean {
  return config.tls === "on" || !isLoopback(host);
}

/** The host of a `host:port` listen address ("" for `:6222`). */
function hostOf(listen: string): string {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(listen);
  return m ? (m[1] ?? "") : listen;
}

function canonicalIp(ip: string): string {
  return isIP(ip) === 6 ? new URL(`http://[${ip}]`).hostname.slice(1, -1) : ip;
}

/**
 * The names the broker certificate is for: loopback, this machine's host
 * name, and the addresses it listens on (every interface's for a wildcard),
 * as sorted `IP:…` and `DNS:…` entries.
 */
export function brokerNames(listenHosts: string[]): string[] {
  const names = new Set<string>();
  const add = (host: string): void => {
    if (isIP(host)) names.add(`IP:${canonicalIp(host)}`);
    // Only plain host names: the names go into openssl's configuration.
    else if (/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i.test(host)) names.add(`DNS:${host.toLowerCase()}`);
  };
  for (const host of ["127.0.0.1", "::1", "localhost", hostname()]) add(host);
  for (const host of listenHosts) {
    if (!wildcard(host)) add(host);
    else for (const a of Object.values(networkInterfaces()).flat()) if (a) add(a.address);
  }
  return [...names].sort();
}

function namesOf(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? "")
    .split(", ")
    .filter(Boolean)
    .map((entry) =>
      entry.startsWith("IP Address:")
        ? `IP:${canonicalIp(entry.slice("IP Address:".length))}`
        : entry.toLowerCase().replace(/^dns:/, "DNS:"),
    )
    .sort();
}

export interface BrokerTlsFiles {
  ca: string;
  cert: string;
  key: string;
}

/**
 * This machine's broker certificate and key, for `names`, signed by the
 * CA key: kept while they still match the CA, the key, the names and the
 * date, else made again. It serves clients and routes, and is the route's
 * client certificate too.
 */
export function brokerCertificate(config: ChorusConfig, names: string[]): BrokerTlsFiles {
  const caKey = caKeyOf(actorPasswordOf(config));
  const ca = caCertificate(config, caKey);
  const folder = tlsFolder(config);
  const files = {
    ca: ca.file,
    cert: path.join(folder, "broker.pem"),
    key: path.join(folder, "broker-key.pem"),
  };
  const [cert, key] = [readIfThere(files.cert), readIfThere(files.key)];
  if (cert && key && isBrokerCertificate(cert, key, new X509Certificate(ca.pem), names))
    return files;
  const conf = [
    ...opensslBase,
    "[broker]",
    "basicConstraints = critical,CA:FALSE",
    "keyUsage = critical,digitalSignature",
    "extendedKeyUsage = serverAuth,clientAuth",
    "subjectKeyIdentifier = hash",
    // The key id only: the CA certificate's serial differs from machine to machine.
    "authorityKeyIdentifier = keyid:always",
    `subjectAltName = ${names.join(",")}`,
  ].join("\n");
  const made = openssl(
    folder,
    conf,
    (f) => [
      ...["req", "-x509", "-new", "-config", f.conf, "-extensions", "broker"],
      ...["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-noenc"],
      ...["-keyout", f.newKey, "-CA", ca.file, "-CAkey", f.caKey],
      ...["-subj", `/O=Chorus/CN=${hostIdOf(config)}`, "-days", String(brokerDays)],
    ],
    caKey,
  );
  if (!made.newKey) throw new ChorusError("INTERNAL", "openssl made no broker key");
  writePrivate(files.key, made.newKey);
  writePrivate(files.cert, made.cert);
  return files;
}

function isBrokerCertificate(
  pem: string,
  key: string,
  ca: X509Certificate,
  names: string[],
): boolean {
  try {
    const cert = new X509Certificate(pem);
    return (
      cert.checkIssued(ca) &&
      cert.verify(ca.publicKey) &&
      cert.checkPrivateKey(createPrivateKey(key)) &&
      namesOf(cert).join() === names.join() &&
      lasts(cert, renewBeforeMs.broker)
    );
  } catch {
    return false;
  }
}

function tlsBlock(files: BrokerTlsFiles, verify: boolean, indent: string): string[] {
  return [
    "tls {",
    `  cert_file: ${JSON.stringify(files.cert)}`,
    `  key_file: ${JSON.stringify(files.key)}`,
    ...(verify ? [`  ca_file: ${JSON.stringify(files.ca)}`, "  verify: true"] : []),
    `  timeout: ${handshakeTimeoutS}`,
    "}",
  ].map((line) => indent + line);
}

/**
 * The TLS parts of the broker's run configuration, certificates made first:
 * a top-level `tls` block for the client port when it listens on
 * `clientHost` with TLS, and a `tls` block for the `cluster` block when
 * there is a cluster (routes always verify each other against the CA).
 */
export function brokerTlsConf(
  config: ChorusConfig,
  clientHost: string,
): { client: string[]; route: string[] } {
  const clustered = config.peers.length > 0 || config.clusterListen !== "";
  const clientTls = usesTls(config, clientHost);
  if (!clustered && !clientTls) return { client: [], route: [] };
  const hosts = [
    clientHost,
    ...(clustered ? [hostOf(config.clusterListen || "0.0.0.0:6222")] : []),
  ];
  const files = brokerCertificate(config, brokerNames(hosts));
  return {
    client: clientTls ? tlsBlock(files, false, "") : [],
    route: clustered ? tlsBlock(files, true, "  ") : [],
  };
}

/**
 * The nats.js TLS options for a connection to `servers`: none when they are
 * all on loopback (unless `tls: on` or `force`), else the deployment's CA
 * as the only root. The name in the certificate is not checked: only a
 * machine that holds the actor secret can have a certificate from this CA,
 * and such a machine has every right anyway (and for an IP URL nats.js gives
 * Node no name to check: it would check "localhost").
 */
export function clientTls(
  config: ChorusConfig,
  servers: string[],
  force = false,
): TlsOptions | undefined {
  const hosts = servers.map((s) => {
    try {
      return new URL(s.includes("://") ? s : `nats://${s}`).hostname;
    } catch {
      return s; // nats.js will say what is wrong with it; until then it counts as remote.
    }
  });
  if (!force && !hosts.some((host) => usesTls(config, host))) return undefined;
  const options: TlsOptions & { checkServerIdentity(): undefined } = {
    ca: caCertificatePem(config),
    checkServerIdentity: () => undefined,
  };
  return options;
}

/** OpenSSL's verdicts on a certificate chain it cannot trust (Node's err.code). */
const untrusted = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_SIGNATURE_FAILURE",
  "CERT_NOT_YET_VALID",
  "CERT_HAS_EXPIRED",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
]);

function untrustedCode(err: unknown): string | undefined {
  for (let e = err; e instanceof Error; e = e.cause) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code && untrusted.has(code)) return code;
  }
  return undefined;
}

/**
 * A connection made without TLS options failed because the broker asked
 * for TLS (nats.js then tries Node's public roots, which do not know our
 * CA): a client on loopback of a broker that listens on every address.
 * Connecting again with the CA is safe: it only ever adds encryption.
 */
export function brokerWantsTls(err: unknown, tls: TlsOptions | undefined): boolean {
  return tls === undefined && untrustedCode(err) !== undefined;
}

/** The error for a broker whose certificate the deployment's CA did not sign. */
export function untrustedBroker(
  config: ChorusConfig,
  err: unknown,
  tls: TlsOptions | undefined,
): ChorusError | undefined {
  const code = untrustedCode(err);
  if (tls === undefined || code === undefined) return undefined;
  return new ChorusError(
    "UNAVAILABLE",
    `the broker at ${config.nats} is not one of this deployment's: its TLS certificate ` +
      `failed verification against the deployment's CA (${code}). A player's machine needs a ` +
      "copy of a broker machine's DATA/tls/ca.pem (--ca); a node's machine, the deployment's " +
      "CHORUS_ACTOR_PASSWORD",
    { cause: err },
  );
}
