/**
 * Every `chorus.` subject, in one place: the topics (presence, audio, P2P)
 * built here, the request subjects declared with their endpoints (wire/
 * auth.ts, file.ts, p2p.ts, prime.ts, sync.ts). Ids inside subjects are
 * checked against `[A-Za-z0-9_-]+`: names from users never go into a subject.
 * The README's subject table is checked against `subjectTable` by a test.
 */
import { subjectId } from "./ids.js";
import type { Endpoint } from "./contract.js";
import { authBeat, authCheck, authLogin, authLogout, authVerify } from "./auth.js";
import { authItems } from "./user-data.js";
import { fileControl, fileCover, filePlay, fileRead, fileSongs } from "./file.js";
import { primeHost, primeHosts, primeJoin } from "./p2p.js";
import type { NodeKind } from "./presence.js";
import {
  controlSpawn,
  nodeAdopt,
  nodeClaim,
  primeAssign,
  primeNodes,
  primeSpawn,
} from "./prime.js";
import { controlFetch, controlManifest, controlReceive, primeSync } from "./sync.js";

/** Subjects that are published (not requests): presence, user events, audio, P2P. */
export const subjects = {
  /** Every actor's presence heartbeat. */
  presence: (kind: NodeKind, id: string) => `chorus.presence.${kind}.${subjectId(id)}`,
  presenceAll: "chorus.presence.>",
  presenceOf: (id: string) => `chorus.presence.*.${subjectId(id)}`,

  /** User events every auth node applies to its own SQLite file. */
  userEvents: "chorus.users.events",

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

/** Every request-reply endpoint of the system. */
export const endpoints: readonly Endpoint[] = [
  primeNodes,
  primeAssign,
  primeSpawn,
  controlSpawn,
  controlManifest,
  controlFetch,
  controlReceive,
  primeSync,
  nodeClaim,
  nodeAdopt,
  authLogin,
  authBeat,
  authLogout,
  authVerify,
  authCheck,
  authItems,
  fileSongs,
  filePlay,
  fileControl,
  fileRead,
  fileCover,
  primeHost,
  primeHosts,
  primeJoin,
];

export interface SubjectRow {
  subject: string;
  kind: "pub" | "req" | "stream";
  publishers: string;
  listeners: string;
  what: string;
}

const row = (e: Endpoint): SubjectRow => ({
  subject: e.subject,
  kind: "req",
  publishers: e.publishers,
  listeners: e.listeners,
  what: e.what,
});

/** One row per subject pattern, for the README and for `chorus monitor` users. */
export const subjectTable: readonly SubjectRow[] = [
  {
    subject: "chorus.presence.<kind>.<id>",
    kind: "pub",
    publishers: "every actor",
    listeners: "prime, nodes watching their owner",
    what: "presence heartbeat: id, kind, owner, host, load, capacity",
  },
  row(primeNodes),
  row(primeAssign),
  row(primeSpawn),
  row(controlSpawn),
  row(controlManifest),
  row(controlFetch),
  row(controlReceive),
  row(primeSync),
  row(nodeClaim),
  row(nodeAdopt),
  row(authLogin),
  row(authBeat),
  row(authLogout),
  row(authVerify),
  row(authCheck),
  row(authItems),
  {
    subject: "chorus.users.events",
    kind: "stream",
    publishers: "chorus user add / key / app-password, auth nodes",
    listeners: "every auth node",
    what: "user versions and user items (stars, playlists, plays), sealed, for every machine's SQLite (stream CHORUS_USERS)",
  },
  row(fileSongs),
  row(filePlay),
  row(fileControl),
  row(fileRead),
  row(fileCover),
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
  row(primeHost),
  row(primeHosts),
  row(primeJoin),
];
