/**
 * Sync's messages: requests a control node answers about its music folder
 * (`chorus.control.<id>.manifest|fetch|receive`) and the prime's status
 * reply (`chorus.prime.sync`). File names travel only in bodies, never in
 * subjects, and are checked here against the safe-name rules.
 */
import { z } from "zod";
import { unsafeReason } from "../actors/sync/names.js";
import type { ManifestEntry } from "../actors/sync/manifest.js";

export const fileName = z
  .string()
  .max(1000)
  .superRefine((name, ctx) => {
    const reason = unsafeReason(name);
    if (reason) ctx.addIssue({ code: "custom", message: `unsafe file name: ${reason}` });
  });
export const contentHash = z.string().regex(/^[0-9a-f]{64}$/, "hash must be 64 hex digits");
const objectName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "invalid transfer id");
const hostId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "invalid host id");
/** Smallest possible WAV file: its 44-byte header. */
const fileSize = z
  .number()
  .int()
  .min(12)
  .max(2 ** 32 + 8);

/** Manifests come in pages so a big library fits the broker's max_payload. */
export const manifestPageSize = 1000;
export const manifestRequest = z.object({
  after: z.string().max(1000).optional(),
  limit: z.number().int().min(1).max(manifestPageSize).optional(),
});
export interface ManifestPage {
  node: string;
  host: string;
  files: ManifestEntry[];
  /** Pass as `after` for the next page; absent on the last page. */
  next?: string;
}

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
export interface SyncNodeStatus {
  id: string;
  kind: "prime" | "plane";
  host: string;
  /** Syncable files in its music folder (at the last look). */
  files: number;
  /** Files it holds with the prime's content. */
  inSync: number;
  /** Files some control node has and it lacks. */
  missing: number;
  /** Names it holds with content other than the prime's. */
  conflicts: number;
  /** Transfers to or from it right now. */
  inFlight: number;
  /** When its manifest was last read (ms since epoch); absent if never. */
  seenAt?: number;
  /** The last error seen with it, if any. */
  lastError?: string;
}

export interface TransferView {
  name: string;
  from: string;
  to: string;
  size: number;
  startedAt: number;
}

export interface SyncStatus {
  intervalMs: number;
  rounds: number;
  lastRound?: { at: number; ms: number; moved: number; failed: number };
  nodes: SyncNodeStatus[];
  inFlight: TransferView[];
}
