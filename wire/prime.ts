/**
 * The control plane's endpoints: the prime's registry, assignment and
 * placement, a control node's spawn on its own machine, and every node's
 * capacity claim.
 */
import { z } from "zod";
import { declare } from "./contract.js";
import { idSchema } from "./ids.js";
import { nodeViewSchema, presenceSchema, spawnableKinds } from "./presence.js";

export const kindRequestSchema = z.object({ kind: z.enum(spawnableKinds) });

/** The registry is paged: one reply must stay under the broker's max_payload. */
export const nodesPageLimit = 1000;
export const nodesPageSchema = z.object({
  offset: z.number().int().min(0).default(0),
  limit: z.number().int().min(1).max(nodesPageLimit).default(nodesPageLimit),
});

export const assignmentSchema = z.object({
  node: nodeViewSchema,
  /** A slot reserved at that node for this client (see Actor.claim). */
  claim: z.string(),
});
export type Assignment = z.infer<typeof assignmentSchema>;

export const primeNodes = declare({
  name: "prime-nodes",
  subject: "chorus.prime.nodes",
  request: nodesPageSchema,
  reply: z.array(nodeViewSchema),
  callers: "listener",
  publishers: "chorus nodes",
  listeners: "prime",
  what: "the registry",
});

export const primeAssign = declare({
  name: "prime-assign",
  subject: "chorus.prime.assign",
  request: kindRequestSchema,
  reply: assignmentSchema,
  callers: "anyone",
  publishers: "clients",
  listeners: "prime",
  what: "which auth / file node to use (spawns one when all are full)",
});

export const primeSpawn = declare({
  name: "prime-spawn",
  subject: "chorus.prime.spawn",
  request: kindRequestSchema,
  reply: nodeViewSchema,
  callers: "actor",
  publishers: "actors, operators",
  listeners: "prime",
  what: "spawn a node of a kind where there is room",
});

export const controlSpawn = declare({
  name: "control-spawn",
  subject: "chorus.control.<id>.spawn",
  request: kindRequestSchema,
  reply: presenceSchema,
  callers: "actor",
  publishers: "prime",
  listeners: "that control node",
  what: "spawn a node on that control node's machine",
});

export const adoptRequestSchema = z.object({ owner: idSchema, host: idSchema });

export const nodeAdopt = declare({
  name: "node-adopt",
  subject: "chorus.node.<id>.adopt",
  request: adoptRequestSchema,
  reply: z.object({ owner: idSchema }),
  callers: "actor",
  publishers: "control nodes",
  listeners: "that node",
  what: "adopt a node whose control node died; answers its owner now (a refusal keeps the old one)",
});

export const nodeClaim = declare({
  name: "node-claim",
  subject: "chorus.node.<id>.claim",
  request: z.object({}),
  reply: z.object({ claim: z.string() }),
  callers: "actor",
  publishers: "prime",
  listeners: "that node",
  what: "reserve one slot of the node's capacity for a client",
});
