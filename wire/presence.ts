/** The presence heartbeat every actor publishes, and the registry's view of a node. */
import { z } from "zod";
import { idSchema } from "./ids.js";

export const nodeKinds = ["prime", "plane", "auth", "file", "gateway"] as const;
export type NodeKind = (typeof nodeKinds)[number];
export const spawnableKinds = ["auth", "file"] as const;
export type SpawnableKind = (typeof spawnableKinds)[number];
/**
 * What a control node may run as a child process: the kinds the prime
 * places, and the HTTP gateway, which only its own control node starts
 * (from `--http`), never the prime on request.
 */
export const childKinds = [...spawnableKinds, "gateway"] as const;
export type ChildKind = (typeof childKinds)[number];

export const presenceSchema = z.object({
  id: idSchema,
  kind: z.enum(nodeKinds),
  /** The control node (prime or plane) that owns this node; itself for control nodes. */
  owner: idSchema,
  /** The machine's host id (from its data folder), never an IP. */
  host: idSchema,
  load: z.number().int().min(0),
  capacity: z.number().int().min(0),
  intervalMs: z.number().int().positive(),
  status: z.enum(["up", "stopping"]),
  startedAt: z.number(),
  pid: z.number().int(),
  /**
   * Set while the node's control node is gone (its process died): the node
   * keeps serving and waits this long for a control node to adopt it.
   */
  orphanSince: z.number().optional(),
});
export type Presence = z.infer<typeof presenceSchema>;

/** What `chorus nodes` shows for one node. */
export const nodeViewSchema = z.object({
  id: z.string(),
  kind: z.enum(nodeKinds),
  owner: z.string(),
  host: z.string(),
  load: z.number(),
  capacity: z.number(),
  pid: z.number(),
  /** Milliseconds since the node started. */
  ageMs: z.number(),
  /** Milliseconds since its last beat reached the prime. */
  lastSeenMs: z.number(),
});
export type NodeView = z.infer<typeof nodeViewSchema>;
