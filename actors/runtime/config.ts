/**
 * Chorus configuration: defaults, overlaid by a JSON config file (`--config`
 * or CHORUS_CONFIG), then by environment variables (CHORUS_*), then by flags.
 * Parsed once at start and passed into constructors; nothing reads it globally.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { ChorusError } from "../../wire/errors.js";
import { idSchema } from "../../wire/ids.js";

export const configSchema = z.object({
  /** Broker URL (or comma-separated URLs of cluster members). */
  nats: z.string().min(1),
  /** Broker store, SQLite files, host id and secrets. */
  data: z.string().min(1),
  /** The music folder. */
  music: z.string().min(1),
  /** This machine's id; by default generated once and kept in the data folder. */
  hostId: idSchema.optional(),
  /** Actors one control node runs on its machine. */
  maxLoad: z.number().int().min(0).max(10_000),
  /** Users per auth node. */
  authCapacity: z.number().int().min(1).max(100_000),
  /** Streams per file node. */
  fileCapacity: z.number().int().min(1).max(100_000),
  /** Size limit of a machine's transcode cache (DATA/transcode), MiB. */
  transcodeCacheMb: z.number().int().min(1).max(10_000_000),
  /** Presence heartbeat interval. */
  heartbeatMs: z.number().int().min(20).max(60_000),
  /** Beats a node may miss before it is dropped. */
  missedBeats: z.number().int().min(1).max(100),
  /** Time an auth or file node waits with nothing to do before it stops. */
  idleMs: z.number().int().min(100).max(86_400_000),
  /**
   * How long a node whose control node's process died keeps serving while it
   * waits for a control node to adopt it (then it stops).
   */
  orphanGraceMs: z.number().int().min(0).max(86_400_000),
  /** Broker password of the actor role (a secret: env or the data folder only). */
  actorPassword: z.string().min(1).optional(),
  /**
   * The broker's public listener identity (a JWT, not a secret: a broker
   * machine writes it to DATA/listener.jwt) for players on machines without
   * the actor secret; with the secret it is made locally.
   */
  listenerToken: z.string().min(1).max(8192).optional(),
  /**
   * How long a session's broker identity lasts; heartbeats renew it. A
   * session that ended loses the broker within this.
   */
  brokerLeaseMs: z.number().int().min(1000).max(86_400_000),
  /** The broker's monitoring port on loopback (0 turns it off). */
  monitorPort: z.number().int().min(0).max(65535),
  /** How often the prime reconciles the control nodes' music folders. */
  syncIntervalMs: z.number().int().min(50).max(86_400_000),
  /** Other brokers' cluster addresses (host:port) this machine's broker joins. */
  peers: z.array(z.string().min(1)),
  /**
   * Where this machine's broker accepts cluster routes. Setting it (or peers)
   * makes the broker a cluster member; with peers alone it is 0.0.0.0:6222.
   */
  clusterListen: z.string(),
  /**
   * TLS on client connections: `auto` when the broker listens on (or a
   * client connects to) a non-loopback address; `on` on loopback too.
   * Cluster routes always use TLS.
   */
  tls: z.enum(["auto", "on"]),
  /**
   * The deployment's CA certificate, for a machine without the actor
   * secret (a player's): a copy of DATA/tls/ca.pem from a broker's machine.
   */
  caFile: z.string().min(1).optional(),
  /**
   * Where this machine's HTTP gateway (the OpenSubsonic API) listens,
   * HOST:PORT; `off` or empty runs none. `chorus up` makes empty mean
   * 127.0.0.1:4533; a plane runs a gateway only when it is set.
   */
  http: z
    .string()
    .regex(/^(|off|(\[[0-9A-Fa-f:.]+\]|[^:\s]*):\d{1,5})$/, "must be HOST:PORT or off"),
});
export type ChorusConfig = z.infer<typeof configSchema>;

export const defaultConfig: ChorusConfig = {
  nats: "nats://127.0.0.1:4222",
  data: "./.chorus",
  music: "./music",
  maxLoad: 8,
  authCapacity: 2,
  fileCapacity: 200,
  transcodeCacheMb: 2048,
  heartbeatMs: 1000,
  missedBeats: 3,
  idleMs: 10_000,
  orphanGraceMs: 30_000,
  brokerLeaseMs: 10 * 60_000,
  monitorPort: 8222,
  syncIntervalMs: 10_000,
  peers: [],
  clusterListen: "",
  tls: "auto",
  http: "",
};

/** Where `chorus up` serves HTTP unless told otherwise (Navidrome's port). */
export const defaultHttp = "127.0.0.1:4533";

type Key = keyof ChorusConfig;
type Kind = "string" | "int" | "list";

/** Each setting's flag and environment variable; the README table follows this list. */
export const settings: ReadonlyArray<{ key: Key; flag?: string; env: string; kind: Kind }> = [
  { key: "nats", flag: "nats", env: "CHORUS_NATS", kind: "string" },
  { key: "data", flag: "data", env: "CHORUS_DATA", kind: "string" },
  { key: "music", flag: "music", env: "CHORUS_MUSIC", kind: "string" },
  { key: "hostId", flag: "host-id", env: "CHORUS_HOST_ID", kind: "string" },
  { key: "maxLoad", flag: "max-load", env: "CHORUS_MAX_LOAD", kind: "int" },
  { key: "authCapacity", flag: "auth-capacity", env: "CHORUS_AUTH_CAPACITY", kind: "int" },
  { key: "fileCapacity", flag: "file-capacity", env: "CHORUS_FILE_CAPACITY", kind: "int" },
  {
    key: "transcodeCacheMb",
    flag: "transcode-cache-mb",
    env: "CHORUS_TRANSCODE_CACHE_MB",
    kind: "int",
  },
  { key: "heartbeatMs", flag: "heartbeat-ms", env: "CHORUS_HEARTBEAT_MS", kind: "int" },
  { key: "missedBeats", flag: "missed-beats", env: "CHORUS_MISSED_BEATS", kind: "int" },
  { key: "idleMs", flag: "idle-ms", env: "CHORUS_IDLE_MS", kind: "int" },
  { key: "orphanGraceMs", flag: "orphan-grace-ms", env: "CHORUS_ORPHAN_GRACE_MS", kind: "int" },
  { key: "actorPassword", env: "CHORUS_ACTOR_PASSWORD", kind: "string" },
  { key: "listenerToken", env: "CHORUS_LISTENER_TOKEN", kind: "string" },
  { key: "brokerLeaseMs", env: "CHORUS_BROKER_LEASE_MS", kind: "int" },
  { key: "monitorPort", flag: "monitor-port", env: "CHORUS_MONITOR_PORT", kind: "int" },
  { key: "syncIntervalMs", flag: "sync-interval-ms", env: "CHORUS_SYNC_INTERVAL_MS", kind: "int" },
  { key: "peers", flag: "peers", env: "CHORUS_PEERS", kind: "list" },
  { key: "clusterListen", flag: "cluster-listen", env: "CHORUS_CLUSTER_LISTEN", kind: "string" },
  { key: "tls", flag: "tls", env: "CHORUS_TLS", kind: "string" },
  { key: "caFile", flag: "ca", env: "CHORUS_CA", kind: "string" },
  { key: "http", flag: "http", env: "CHORUS_HTTP", kind: "string" },
];

/** Flag definitions for node's util.parseArgs, shared by every command. */
export const configFlags: Record<string, { type: "string" }> = Object.fromEntries([
  ["config", { type: "string" as const }],
  ...settings.filter((s) => s.flag).map((s) => [s.flag as string, { type: "string" as const }]),
]);

function convert(name: string, kind: Kind, raw: string): unknown {
  if (kind === "int") {
    if (!/^\d+$/.test(raw.trim())) {
      throw new ChorusError("BAD_REQUEST", `${name} must be a whole number, got "${raw}"`);
    }
    return Number(raw);
  }
  if (kind === "list") {
    return raw
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
  }
  return raw;
}

/**
 * Build the configuration from flags (already parsed by util.parseArgs) and
 * the environment. Throws a ChorusError naming the bad setting.
 */
export function loadConfig(
  flags: Record<string, unknown> = {},
  env: NodeJS.ProcessEnv = process.env,
): ChorusConfig {
  const merged: Record<string, unknown> = { ...defaultConfig };
  const file = (flags.config as string | undefined) ?? env.CHORUS_CONFIG;
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, "utf8"));
    } catch (err) {
      throw new ChorusError(
        "BAD_REQUEST",
        `cannot read config file ${file}: ${(err as Error).message}`,
      );
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new ChorusError("BAD_REQUEST", `config file ${file} must hold a JSON object`);
    }
    Object.assign(merged, parsed);
  }
  for (const s of settings) {
    const fromEnv = env[s.env];
    if (fromEnv !== undefined && fromEnv !== "") merged[s.key] = convert(s.env, s.kind, fromEnv);
  }
  for (const s of settings) {
    const fromFlag = s.flag ? flags[s.flag] : undefined;
    if (typeof fromFlag === "string") merged[s.key] = convert(`--${s.flag}`, s.kind, fromFlag);
  }
  const result = configSchema.strict().safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.join(".") || "config";
    throw new ChorusError("BAD_REQUEST", `bad configuration: ${where}: ${issue?.message}`);
  }
  const config = result.data;
  return {
    ...config,
    data: path.resolve(config.data),
    music: path.resolve(config.music),
    ...(config.caFile ? { caFile: path.resolve(config.caFile) } : {}),
  };
}
