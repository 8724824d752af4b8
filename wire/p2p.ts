/**
 * The P2P relay protocol, shared by the prime (actors/prime/hosts.ts) and
 * clients (client/p2p/):
 *
 *   chorus.prime.host   {session, id, key}                  → {listeners}
 *   chorus.hosts.<id>   signed host presence, every beat      (pub)
 *   chorus.relay.<id>   signed relay frames, as played        (stream CHORUS_RELAY)
 *   chorus.prime.hosts  {}                                   → HostView[]
 *   chorus.prime.join   {session, host, deliver, backlogMs?} → JoinReply
 *
 * A host signs every frame and presence beat with an Ed25519 key it made for
 * this run; the prime binds the host id to that key when a logged-in user
 * registers it, and hands the key to joiners. Anyone may publish on
 * `chorus.relay.<someone-else>` (listeners share one broker user), but
 * nobody else can sign for that host: joiners drop such frames.
 *
 * A relay frame is a 4-byte big-endian header length, the JSON RelayHeader,
 * a 64-byte signature over header JSON + PCM, then the PCM exactly as played.
 */
import { qualitySchema } from "./quality.js";
import { createPublicKey, sign, verify, type KeyObject } from "node:crypto";
import { z } from "zod";
import { declare } from "./contract.js";
import { encodeFrameJson, splitFrame } from "./frame.js";
import { idSchema, inboxSchema } from "./ids.js";
import { audioFormatSchema, frameBytes, songSchema } from "./media.js";
import { sessionSchema } from "./session.js";

export const relayStreamName = "CHORUS_RELAY";
/** Frames a host keeps in the relay stream (a frame is one playback write: ~10-40 ms). */
export const relayFramesPerHost = 400;
/** Frames older than this leave the stream, whatever the host does. */
export const relayMaxAgeMs = 10_000;
/** Audio a joiner buffers before it plays (the host itself writes 40 ms ahead). */
export const defaultBacklogMs = 70;

const id = idSchema;

/** What travels of a song with every frame: the catalogue's song without its format and size. */
export const relaySongSchema = songSchema.pick({
  id: true,
  title: true,
  artist: true,
  album: true,
  file: true,
  duration: true,
});
export type RelaySong = z.infer<typeof relaySongSchema>;

/** playing: PCM follows; paused / ended / stopped: a marker at `byte` (no PCM). */
export const relayStates = ["playing", "paused", "ended", "stopped"] as const;
export type RelayState = (typeof relayStates)[number];

export const relayHeaderSchema = z.object({
  v: z.literal(1),
  host: id,
  /** +1 per frame over the host's run: joiners drop anything not newer. */
  seq: z.number().int().min(0),
  /** Bumped by the host on every jump (seek, song change, recovery). */
  epoch: z.number().int().min(0),
  state: z.enum(relayStates),
  song: relaySongSchema,
  format: audioFormatSchema,
  /** Byte offset of the first PCM byte in the song's PCM data (or the position of a marker). */
  byte: z.number().int().min(0),
  /** The host's clock (ms since the epoch) when it played the first byte. */
  at: z.number().finite(),
  /** 0 when the host plays from a file node, n+1 when it follows a host of depth n. */
  depth: z.number().int().min(0).max(64),
  /**
   * The level the PCM was decoded from (absent: lossless), so a joiner that
   * carries on from a file node asks for the same level and format.
   */
  quality: qualitySchema.optional(),
});
export type RelayHeader = z.infer<typeof relayHeaderSchema>;

export const hostPresenceSchema = z.object({
  v: z.literal(1),
  id,
  /** The logged-in user playing (the host's name). */
  user: z.string().max(256),
  status: z.enum(["up", "stopping"]),
  state: z.enum(["playing", "paused", "idle"]),
  song: relaySongSchema.optional(),
  /** Seconds into the song. */
  position: z.number().finite().min(0),
  listeners: z.number().int().min(0),
  depth: z.number().int().min(0).max(64),
  intervalMs: z.number().int().positive(),
  at: z.number().finite(),
});
export type HostPresence = z.infer<typeof hostPresenceSchema>;

/** On the wire: the presence JSON as a string, and its signature (base64url). */
export const signedPresenceSchema = z.object({ p: z.string().max(8192), sig: z.string().max(128) });

export const hostRegisterSchema = z.object({
  session: sessionSchema,
  id,
  /** The host's Ed25519 public key (JWK `x`, base64url). */
  key: z.string().regex(/^[A-Za-z0-9_-]{43}$/, "must be an Ed25519 public key"),
});
export type HostRegister = z.infer<typeof hostRegisterSchema>;

export const joinRequestSchema = z.object({
  session: sessionSchema,
  /** A host id, or the user name of the host (when only one host has it). */
  host: z.string().min(1).max(256),
  deliver: inboxSchema,
  /** Relayed audio to deliver from before the newest frame. */
  backlogMs: z.number().int().min(0).max(5000).optional(),
});
export type JoinRequest = z.infer<typeof joinRequestSchema>;

/** What `chorus hosts` shows for one host. */
export const hostViewSchema = z.object({
  id: z.string(),
  user: z.string(),
  /** The song's title (none while idle). */
  song: z.string().optional(),
  songId: z.string().optional(),
  /** Seconds into the song, and its length. */
  position: z.number(),
  duration: z.number().optional(),
  state: hostPresenceSchema.shape.state,
  paused: z.boolean(),
  listeners: z.number(),
  depth: z.number(),
  /** Milliseconds since its last beat reached the prime. */
  lastSeenMs: z.number(),
});
export type HostView = z.infer<typeof hostViewSchema>;

export const joinReplySchema = z.object({
  /** The relay consumer the prime opened towards the joiner's inbox. */
  consumer: z.string(),
  host: hostViewSchema,
  /** Verify every frame and beat of this host with it. */
  key: z.string(),
  intervalMs: z.number().int().positive(),
  /** The newest frame's header when the join was made (none: nothing relayed yet). */
  last: relayHeaderSchema.optional(),
  /** The byte right after that frame's PCM. */
  lastEnd: z.number().int().min(0).optional(),
});
export type JoinReply = z.infer<typeof joinReplySchema>;

// ---- keys and signatures ---------------------------------------------------------

/** The KeyObject for a public key string; throws on a malformed one. */
export function publicKeyOf(key: string): KeyObject {
  return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: key }, format: "jwk" });
}

const sigBytes = 64;

export function encodeFrame(header: RelayHeader, pcm: Uint8Array, key: KeyObject): Uint8Array {
  const json = Buffer.from(JSON.stringify(header));
  return encodeFrameJson(json, pcm, sign(null, Buffer.concat([json, pcm]), key));
}

export type FrameCheck =
  { ok: true; header: RelayHeader; pcm: Uint8Array } | { ok: false; why: string };

/** Decode a frame, check its signature (when `key` is given) and its shape. Never throws. */
export function decodeFrame(data: Uint8Array, key?: KeyObject): FrameCheck {
  try {
    if (data.length < 4 + sigBytes) return { ok: false, why: "too short" };
    let parts: ReturnType<typeof splitFrame>;
    try {
      parts = splitFrame(data, sigBytes);
    } catch {
      return { ok: false, why: "header runs past the frame" };
    }
    const { json, tag: sig, payload: pcm } = parts;
    if (key && !verify(null, Buffer.concat([json, pcm]), key, sig)) {
      return { ok: false, why: "bad signature" };
    }
    const parsed = relayHeaderSchema.safeParse(JSON.parse(json.toString("utf8")));
    if (!parsed.success) return { ok: false, why: "malformed header" };
    const header = parsed.data;
    const frame = frameBytes(header.format);
    if (header.byte % frame !== 0 || pcm.length % frame !== 0) {
      return { ok: false, why: "not whole frames" };
    }
    if (header.state !== "playing" && pcm.length > 0) return { ok: false, why: "PCM on a marker" };
    const songBytes = Math.ceil(header.song.duration * header.format.sampleRate + 1) * frame;
    if (header.byte + pcm.length > songBytes) return { ok: false, why: "past the song's end" };
    return { ok: true, header, pcm };
  } catch {
    return { ok: false, why: "undecodable" };
  }
}

export function signPresence(presence: HostPresence, key: KeyObject): Uint8Array {
  const p = JSON.stringify(presence);
  const sig = sign(null, Buffer.from(p), key).toString("base64url");
  return Buffer.from(JSON.stringify({ p, sig }));
}

/** The presence in a beat, when it parses and (with `key`) its signature holds. */
export function readPresence(data: Uint8Array, key?: KeyObject): HostPresence | undefined {
  try {
    const outer = signedPresenceSchema.safeParse(JSON.parse(Buffer.from(data).toString("utf8")));
    if (!outer.success) return undefined;
    const { p, sig } = outer.data;
    if (key && !verify(null, Buffer.from(p), key, Buffer.from(sig, "base64url"))) return undefined;
    const parsed = hostPresenceSchema.safeParse(JSON.parse(p));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export const primeHost = declare({
  name: "prime-host",
  subject: "chorus.prime.host",
  request: hostRegisterSchema,
  reply: z.object({ listeners: z.number().int().min(0) }),
  callers: "listener",
  publishers: "playing clients",
  listeners: "prime",
  what: "register a host id and its signing key (session checked); answers its listeners",
});

export const primeHosts = declare({
  name: "prime-hosts",
  subject: "chorus.prime.hosts",
  request: z.object({}).loose(),
  reply: z.array(hostViewSchema),
  callers: "listener",
  publishers: "chorus hosts, players",
  listeners: "prime",
  what: "P2P hosts playing now: id, user, song, position, listeners",
});

export const primeJoin = declare({
  name: "prime-join",
  subject: "chorus.prime.join",
  request: joinRequestSchema,
  reply: joinReplySchema,
  callers: "listener",
  publishers: "logged-in clients",
  listeners: "prime",
  what: "join a host (session checked): the prime opens a relay consumer to the joiner's inbox",
});
