/**
 * Every `chorus.` subject, in one place. Ids inside subjects are checked
 * against `[A-Za-z0-9_-]+`: names from users never go into a subject.
 * The README's subject table is checked against `subjectTable` by a test.
 */
import { ChorusError } from "./errors.js";
import { idPattern } from "../actors/runtime/identity.js";

export type NodeKind = "prime" | "plane" | "auth" | "file";
export const spawnableKinds = ["auth", "file"] as const;
export type SpawnableKind = (typeof spawnableKinds)[number];

/** Throws unless `id` is safe to put in a subject (no `.`, `*`, `>`, spaces). */
export function subjectId(id: string): string {
  if (!idPattern.test(id)) throw new ChorusError("BAD_REQUEST", "invalid id");
  return id;
}

export const subjects = {
  /** Every actor's presence heartbeat. */
  presence: (kind: NodeKind, id: string) => `chorus.presence.${kind}.${subjectId(id)}`,
  presenceAll: "chorus.presence.>",
  presenceOf: (id: string) => `chorus.presence.*.${subjectId(id)}`,

  /** Requests the prime answers. */
  primeNodes: "chorus.prime.nodes",
  primeAssign: "chorus.prime.assign",
  primeSpawn: "chorus.prime.spawn",
  primeHosts: "chorus.prime.hosts",
  /** P2P: a host registers its signing key with its session; a listener asks to join a host. */
  primeHost: "chorus.prime.host",
  primeJoin: "chorus.prime.join",
  primeSync: "chorus.prime.sync",

  /** Requests a control node (prime or plane) answers about its own machine. */
  controlSpawn: (controlId: string) => `chorus.control.${subjectId(controlId)}.spawn`,
  controlManifest: (controlId: string) => `chorus.control.${subjectId(controlId)}.manifest`,
  controlFetch: (controlId: string) => `chorus.control.${subjectId(controlId)}.fetch`,
  controlReceive: (controlId: string) => `chorus.control.${subjectId(controlId)}.receive`,

  /** Requests any node answers: reserve a slot of its capacity. */
  nodeClaim: (id: string) => `chorus.node.${subjectId(id)}.claim`,

  /** Auth node requests. */
  authLogin: (id: string) => `chorus.auth.${subjectId(id)}.login`,
  authLogout: (id: string) => `chorus.auth.${subjectId(id)}.logout`,
  authBeat: (id: string) => `chorus.auth.${subjectId(id)}.beat`,
  authVerify: (id: string) => `chorus.auth.${subjectId(id)}.verify`,
  /** User events every auth node applies to its own SQLite file. */
  userEvents: "chorus.users.events",

  /** File node requests. */
  fileSongs: (id: string) => `chorus.file.${subjectId(id)}.songs`,
  filePlay: (id: string) => `chorus.file.${subjectId(id)}.play`,
  fileControl: (id: string) => `chorus.file.${subjectId(id)}.control`,
  /** Audio chunks of one listener's stream. */
  audio: (hostId: string, streamId: string) =>
    `chorus.audio.${subjectId(hostId)}.${subjectId(streamId)}`,
  audioOfHost: (hostId: string) => `chorus.audio.${subjectId(hostId)}.*`,

  /** P2P: a playing client's presence and its relayed chunks. */
  hostPresence: (hostId: string) => `chorus.hosts.${subjectId(hostId)}`,
  hostPresenceAll: "chorus.hosts.>",
  relay: (hostId: string) => `chorus.relay.${subjectId(hostId)}`,
  relayAll: "chorus.relay.*",
} as const;

/** One row per subject pattern, for the README and for `chorus monitor` users. */
export const subjectTable: ReadonlyArray<{
  subject: string;
  kind: "pub" | "req" | "stream";
  publishers: string;
  listeners: string;
  what: string;
}> = [
  {
    subject: "chorus.presence.<kind>.<id>",
    kind: "pub",
    publishers: "every actor",
    listeners: "prime, nodes watching their owner",
    what: "presence heartbeat: id, kind, owner, host, load, capacity",
  },
  {
    subject: "chorus.prime.nodes",
    kind: "req",
    publishers: "chorus nodes",
    listeners: "prime",
    what: "the registry",
  },
  {
    subject: "chorus.prime.assign",
    kind: "req",
    publishers: "clients",
    listeners: "prime",
    what: "which auth / file node to use (spawns one when all are full)",
  },
  {
    subject: "chorus.prime.spawn",
    kind: "req",
    publishers: "actors, operators",
    listeners: "prime",
    what: "spawn a node of a kind where there is room",
  },
  {
    subject: "chorus.control.<id>.spawn",
    kind: "req",
    publishers: "prime",
    listeners: "that control node",
    what: "spawn a node on that control node's machine",
  },
  {
    subject: "chorus.control.<id>.manifest",
    kind: "req",
    publishers: "prime",
    listeners: "that control node",
    what: "one page of its music folder: safe WAV files with size and SHA-256",
  },
  {
    subject: "chorus.control.<id>.fetch",
    kind: "req",
    publishers: "prime",
    listeners: "that control node",
    what: "put one of its files into the `chorus-sync` object store bucket",
  },
  {
    subject: "chorus.control.<id>.receive",
    kind: "req",
    publishers: "prime",
    listeners: "that control node",
    what: "take a file from the `chorus-sync` bucket, check it, store it atomically",
  },
  {
    subject: "chorus.prime.sync",
    kind: "req",
    publishers: "chorus sync status / now",
    listeners: "prime",
    what: "music sync status per control node; `run: true` runs a round first",
  },
  {
    subject: "chorus.node.<id>.claim",
    kind: "req",
    publishers: "prime",
    listeners: "that node",
    what: "reserve one slot of the node's capacity for a client",
  },
  {
    subject: "chorus.auth.<id>.login",
    kind: "req",
    publishers: "clients",
    listeners: "that auth node",
    what: "log in (with the prime's claim); the token comes back sealed to the client's key",
  },
  {
    subject: "chorus.auth.<id>.beat",
    kind: "req",
    publishers: "logged-in clients",
    listeners: "that auth node",
    what: "session heartbeat; UNAUTHORIZED when the session is gone",
  },
  {
    subject: "chorus.auth.<id>.logout",
    kind: "req",
    publishers: "logged-in clients",
    listeners: "that auth node",
    what: "end a session",
  },
  {
    subject: "chorus.auth.<id>.verify",
    kind: "req",
    publishers: "file nodes (actors only)",
    listeners: "that auth node",
    what: "is this session alive? answers the user's name",
  },
  {
    subject: "chorus.users.events",
    kind: "stream",
    publishers: "chorus user add, auth nodes",
    listeners: "every auth node",
    what: "user versions (sealed) for every machine's SQLite (stream CHORUS_USERS)",
  },
  {
    subject: "chorus.file.<id>.songs",
    kind: "req",
    publishers: "logged-in clients",
    listeners: "that file node",
    what: "the songs of its music folder (session checked at its auth node)",
  },
  {
    subject: "chorus.file.<id>.play",
    kind: "req",
    publishers: "logged-in clients",
    listeners: "that file node",
    what: "stream a song from a position to the client's inbox; answers the stream id",
  },
  {
    subject: "chorus.file.<id>.control",
    kind: "req",
    publishers: "the listening client",
    listeners: "that file node",
    what: "pause, resume, seek, stop, sync, position reports (the stream's own session only)",
  },
  {
    subject: "chorus.audio.<host>.<streamId>",
    kind: "stream",
    publishers: "file nodes",
    listeners: "one listener, by a push consumer its file node made",
    what: "audio chunks: stream, seq, epoch, frame/byte offset, time, format, PCM; end marker (stream CHORUS_AUDIO_<host>, kept on that machine's broker)",
  },
  {
    subject: "chorus.hosts.<hostId>",
    kind: "pub",
    publishers: "playing clients (P2P hosts)",
    listeners: "prime, joiners, chorus monitor",
    what: "host presence (signed): user, song, position, paused, listeners",
  },
  {
    subject: "chorus.relay.<hostId>",
    kind: "stream",
    publishers: "playing clients (P2P hosts)",
    listeners: "joiners (push consumers the prime creates)",
    what: "signed PCM chunks as the host plays them; a few seconds kept (stream CHORUS_RELAY)",
  },
  {
    subject: "chorus.prime.host",
    kind: "req",
    publishers: "playing clients",
    listeners: "prime",
    what: "register a host id and its signing key (session checked); answers its listeners",
  },
  {
    subject: "chorus.prime.hosts",
    kind: "req",
    publishers: "chorus hosts, players",
    listeners: "prime",
    what: "P2P hosts playing now: id, user, song, position, listeners",
  },
  {
    subject: "chorus.prime.join",
    kind: "req",
    publishers: "logged-in clients",
    listeners: "prime",
    what: "join a host (session checked): the prime opens a relay consumer to the joiner's inbox",
  },
];
