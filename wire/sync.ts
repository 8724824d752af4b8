/**
 * Sync's messages: requests a control node answers about its music folder
 * (`chorus.control.<id>.manifest|fetch|receive`) and the prime's status
 * reply (`chorus.prime.sync`). File names travel only in bodies, never in
 * subjects, and are checked here against the safe-name rules.
 */
import { z } from "zod";
import { declare } from "./contract.js";
import { idPattern } from "./ids.js";
import { unsafeReason } from "./safe-names.js";

export const fileName = z
  .string()
  .max(1000)
  .superRefine((name, ctx) => {
    const reason = unsafeReason(name);
    if (reason) ctx.addIssue({ code: "custom", message: `unsafe file name: ${reason}` });
  });
export const contentHash = z.string().regex(/^[0-9a-f]{64}$/, "hash must be 64 hex digits");
const objectName = z.string().regex(idPattern, "invalid transfer id");
const hostId = z.string().regex(idPattern, "invalid host id");
/** Smallest possible WAV file: its 44-byte header. */
const fileSize = z
  .number()
  .int()
  .min(12)
  .max(2 ** 32 + 8);

/** One file of a music folder as sync sees it. */
export const manifestEntrySchema = z.object({
  name: z.string(),
  size: z.number().int().min(0),
  /** SHA-256 of the content, lowercase hex. */
  hash: z.string(),
});
export type ManifestEntry = z.infer<typeof manifestEntrySchema>;

/** Manifests come in pages so a big library fits the broker's max_payload. */
export const manifestPageSize = 1000;
export const manifestRequest = z.object({
  after: z.string().max(1000).optional(),
  limit: z.number().int().min(1).max(manifestPageSize).optional(),
});
export const manifestPageSchema = z.object({
  node: z.string(),
  host: z.string(),
  files: z.array(manifestEntrySchema),
  /** Pass as `after` for the next page; absent on the last page. */
  next: z.string().optional(),
});
export type ManifestPage = z.infer<typeof manifestPageSchema>;

/** Put your copy of `name` into the transfer bucket as `object`. */
export const fetchRequest = z.object({
  name: fileName,
  hash: contentHash,
  size: fileSize,
  object: objectName,
});
export type FetchRequest = z.infer<typeof fetchRequest>;

/** Take `object` from the transfer bucket and store it as `name`. */
export const receiveRequest = fetchRequest.extend({
  /** The sender's copy wins a name conflict (see transfer.ts). */
  from: hostId,
});
export type ReceiveRequest = z.infer<typeof receiveRequest>;

export const syncRequest = z.object({
  /** Run a round now and answer when it has finished. */
  run: z.boolean().optional(),
});

/** One control node's line of `chorus sync status`. */
export const syncNodeStatusSchema = z.object({
  id: z.string(),
  kind: z.enum(["prime", "plane"]),
  host: z.string(),
  /** Syncable files in its music folder (at the last look). */
  files: z.number(),
  /** Files it holds with the prime's content. */
  inSync: z.number(),
  /** Files some control node has and it lacks. */
  missing: z.number(),
  /** Names it holds with content other than the prime's. */
  conflicts: z.number(),
  /** Transfers to or from it right now. */
  inFlight: z.number(),
  /** When its manifest was last read (ms since epoch); absent if never. */
  seenAt: z.number().optional(),
  /** The last error seen with it, if any. */
  lastError: z.string().optional(),
});
export type SyncNodeStatus = z.infer<typeof syncNodeStatusSchema>;

export const transferViewSchema = z.object({
  name: z.string(),
  from: z.string(),
  to: z.string(),
  size: z.number(),
  startedAt: z.number(),
});
export type TransferView = z.infer<typeof transferViewSchema>;

export const syncStatusSchema = z.object({
  intervalMs: z.number(),
  rounds: z.number(),
  lastRound: z
    .object({ at: z.number(), ms: z.number(), moved: z.number(), failed: z.number() })
    .optional(),
  nodes: z.array(syncNodeStatusSchema),
  inFlight: z.array(transferViewSchema),
});
export type SyncStatus = z.infer<typeof syncStatusSchema>;

export const receivedSchema = z.object({ stored: z.string(), movedAside: z.string().optional() });

export const controlManifest = declare({
  name: "control-manifest",
  subject: "chorus.control.<id>.manifest",
  request: manifestRequest,
  reply: manifestPageSchema,
  callers: "actor",
  publishers: "prime",
  listeners: "that control node",
  what: "one page of its music folder: safe WAV files with size and SHA-256",
});

export const controlFetch = declare({
  name: "control-fetch",
  subject: "chorus.control.<id>.fetch",
  request: fetchRequest,
  reply: z.object({ sent: z.literal(true) }),
  callers: "actor",
  publishers: "prime",
  listeners: "that control node",
  what: "put one of its files into the `chorus-sync` object store bucket",
});

export const controlReceive = declare({
  name: "control-receive",
  subject: "chorus.control.<id>.receive",
  request: receiveRequest,
  reply: receivedSchema,
  callers: "actor",
  publishers: "prime",
  listeners: "that control node",
  what: "take a file from the `chorus-sync` bucket, check it, store it atomically",
});

export const primeSync = declare({
  name: "prime-sync",
  subject: "chorus.prime.sync",
  request: syncRequest,
  reply: syncStatusSchema,
  callers: "actor",
  publishers: "chorus sync status / now",
  listeners: "prime",
  what: "music sync status per control node; `run: true` runs a round first",
});
