/**
 * Spawning actors as real child processes of a control node. A child gets
 * its configuration, id and owner through the environment and an IPC
 * channel, so it notices at once when its control node's process dies.
 * The spawn is ready when the child's first presence beat arrives.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ChorusConfig } from "../runtime/config.js";
import { ChorusError } from "../../wire/errors.js";
import { actorPasswordOf, newId } from "../runtime/identity.js";
import { presenceSchema, type Presence } from "../../wire/presence.js";
import { safeJson } from "../../wire/codec.js";
import type { ChildKind } from "../../wire/presence.js";
import { subjects } from "../../wire/subjects.js";

const mainPath = fileURLToPath(new URL("./main.js", import.meta.url));

export const spawnTimeoutMs = 15_000;

export interface Spawned {
  presence: Presence;
  child: ChildProcess;
}

export function childEnv(config: ChorusConfig, id: string, owner: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    CHORUS_ACTOR_CONFIG: JSON.stringify({ ...config, actorPassword: actorPasswordOf(config) }),
    CHORUS_NODE_ID: id,
    CHORUS_OWNER: owner,
  };
}

/** Start `kind` as a child process and resolve with its first presence. */
export function spawnActor(
  nc: NatsConnection,
  config: ChorusConfig,
  kind: ChildKind,
  owner: string,
): Promise<Spawned> {
  const id = newId(kind);
  return new Promise<Spawned>((resolve, reject) => {
    let child: ChildProcess | undefined;
    const fail = (message: string): void => {
      cleanup();
      if (child && child.exitCode === null) child.kill("SIGKILL");
      reject(new ChorusError("SPAWN_FAILED", message));
    };
    const sub = nc.subscribe(subjects.presence(kind, id), {
      callback: (err, msg) => {
        if (err || !child) return;
        const parsed = presenceSchema.safeParse(safeJson(msg.data));
        if (!parsed.success || parsed.data.status !== "up") return;
        cleanup();
        resolve({ presence: parsed.data, child });
      },
    });
    const timer = setTimeout(() => fail(`${kind} node did not report in time`), spawnTimeoutMs);
    const onExit = (code: number | null, signal: string | null): void =>
      fail(`${kind} node exited before it was ready (code ${code}, signal ${signal})`);
    const cleanup = (): void => {
      clearTimeout(timer);
      sub.unsubscribe();
      child?.off("exit", onExit);
    };
    // Subscribe before starting the child so its first beat cannot be missed.
    nc.flush()
      .then(() => {
        child = spawn(process.execPath, [mainPath, kind], {
          env: childEnv(config, id, owner),
          stdio: ["ignore", "inherit", "inherit", "ipc"],
        });
        child.once("exit", onExit);
        child.once("error", (err) => fail(`cannot start ${kind} node: ${err.message}`));
      })
      .catch((err: unknown) => fail(`cannot start ${kind} node: ${String(err)}`));
  });
}
