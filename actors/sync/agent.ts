/**
 * The sync side every control node (prime and plane) runs: it answers for
 * its own music folder — its manifest, sending a file into the transfer
 * bucket, receiving one from it — and removes temporary files a killed
 * transfer left behind.
 */
import { mkdir, readdir, unlink } from "node:fs/promises";
import path from "node:path";
import type { ControlNode } from "../control/control.js";
import { ChorusError } from "../../wire/errors.js";
import type { Logger } from "../runtime/log.js";
import { at } from "../../wire/contract.js";
import { isTempName, tempPrefix } from "../../wire/safe-names.js";
import { Manifest } from "./manifest.js";
import {
  controlFetch,
  controlManifest,
  controlReceive,
  manifestPageSize,
  type FetchRequest,
  type ManifestEntry,
  type ManifestPage,
  type ReceiveRequest,
} from "../../wire/sync.js";
import { openSyncStore, type SyncStore } from "./store.js";
import { receiveFile, sendFile, type Received } from "./transfer.js";

export class SyncAgent {
  readonly manifest: Manifest;
  readonly log: Logger;
  private store?: Promise<SyncStore>;
  /** Names being written here now: one transfer per name at a time. */
  private readonly busy = new Set<string>();
  private readonly aborts = new AbortController();

  constructor(readonly control: ControlNode) {
    this.log = control.actor.log.child("sync");
    this.manifest = new Manifest(this.dir, this.log);
  }

  get dir(): string {
    return this.control.actor.config.music;
  }

  get signal(): AbortSignal {
    return this.aborts.signal;
  }

  async start(): Promise<void> {
    const actor = this.control.actor;
    await mkdir(this.dir, { recursive: true });
    await this.removeStaleTemps();
    actor.serve(at(controlManifest, actor.id), (req) => this.page(req.after, req.limit));
    actor.serve(at(controlFetch, actor.id), (req) => this.send(req));
    actor.serve(at(controlReceive, actor.id), (req) => this.receive(req, "aside"));
    actor.onStop(() => this.aborts.abort());
  }

  syncStore(): Promise<SyncStore> {
    this.store ??= openSyncStore(this.control.actor.nc).catch((err: unknown) => {
      this.store = undefined;
      throw new ChorusError("UNAVAILABLE", `transfer bucket unavailable: ${String(err)}`);
    });
    return this.store;
  }

  async page(after?: string, limit = manifestPageSize): Promise<ManifestPage> {
    const files = await this.manifest.scan();
    const rest = after === undefined ? files : files.filter((f) => f.name > after);
    const page = rest.slice(0, limit);
    const last = page[page.length - 1];
    return {
      node: this.control.actor.id,
      host: this.control.actor.host,
      files: page,
      ...(rest.length > page.length && last ? { next: last.name } : {}),
    };
  }

  /** Put our copy of a file into the bucket, if it still is what the caller expects. */
  async send(req: FetchRequest): Promise<{ sent: true }> {
    const entry = await this.manifest.lookup(req.name);
    if (!entry) throw new ChorusError("NOT_FOUND", "no such file here");
    if (entry.hash !== req.hash || entry.size !== req.size) {
      throw new ChorusError("UNAVAILABLE", "file changed since the manifest; retried next round");
    }
    await sendFile(await this.syncStore(), this.dir, entry, req.object, this.signal);
    this.log.debug("sent", { name: req.name, size: req.size });
    return { sent: true };
  }

  /**
   * Store an object from the bucket as `name`. "aside": the sender's copy
   * wins a conflict (a plane receiving from the prime); "keep": ours does
   * (the prime receiving from a plane).
   */
  async receive(req: ReceiveRequest, ifExists: "aside" | "keep"): Promise<Received> {
    if (this.busy.has(req.name)) throw new ChorusError("UNAVAILABLE", "already receiving it");
    this.busy.add(req.name);
    try {
      const result = await receiveFile(await this.syncStore(), this.dir, {
        ...req,
        ifExists,
        loserHost: ifExists === "aside" ? this.control.actor.host : req.from,
        signal: this.signal,
      });
      this.manifest.forget(req.name);
      if (result.movedAside) {
        this.log.warn("sync conflict: incoming copy took the name, ours was kept aside", {
          name: req.name,
          keptAs: result.movedAside,
          from: req.from,
        });
      } else if (result.stored !== req.name) {
        this.log.warn("sync conflict: our copy keeps the name, incoming one stored aside", {
          name: req.name,
          storedAs: result.stored,
          from: req.from,
        });
      } else if (!result.already) {
        this.log.info("received", { name: req.name, size: req.size, from: req.from });
      }
      return result;
    } finally {
      this.busy.delete(req.name);
    }
  }

  /** Temporary files of processes that no longer run (a transfer cut off by a kill). */
  private async removeStaleTemps(): Promise<void> {
    for (const name of await readdir(this.dir)) {
      if (!isTempName(name)) continue;
      const pid = Number(name.slice(tempPrefix.length).split("-")[0]);
      if (Number.isInteger(pid) && pid !== process.pid && alive(pid)) continue;
      await unlink(path.join(this.dir, name)).catch(() => undefined);
      this.log.info("removed an interrupted transfer's temporary file", { file: name });
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export type { ManifestEntry };
