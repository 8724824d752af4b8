/** The presence heartbeat every actor publishes, and its schema. */
import { z } from "zod";

const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);

export const presenceSchema = z.object({
  id,
  kind: z.enum(["prime", "plane", "auth", "file"]),
  /** The control node (prime or plane) that owns this node; itself for control nodes. */
  owner: id,
  /** The machine's host id (from its data folder), never an IP. */
  host: id,
  load: z.number().int().min(0),
  capacity: z.number().int().min(0),
  intervalMs: z.number().int().positive(),
  status: z.enum(["up", "stopping"]),
  startedAt: z.number(),
  pid: z.number().int(),
});
export type Presence = z.infer<typeof presenceSchema>;

/** What `chorus nodes` shows for one node. */
export interface NodeView {
  id: string;
  kind: Presence["kind"];
  owner: string;
  host: string;
  load: number;
  capacity: number;
  pid: number;
  /** Milliseconds since the node started. */
  ageMs: number;
  /** Milliseconds since its last beat reached the prime. */
  lastSeenMs: number;
}
