/**
 * `chorus sync status` and `chorus sync now`: music sync as the prime sees
 * it, per control node. Operator tools: they use the actor role (the data
 * folder's secret or CHORUS_ACTOR_PASSWORD), like `chorus monitor`.
 */
import { at } from "../../wire/contract.js";
import { primeSync } from "../../wire/sync.js";
import { loadConfig } from "../../actors/runtime/config.js";
import { connectBroker } from "../../actors/runtime/connect.js";
import { call } from "../../actors/runtime/endpoint.js";
import type { SyncStatus } from "../../wire/sync.js";
import type { Command, FlagValues } from "../command.js";
import { json, seconds, table } from "../output.js";

async function fetchStatus(flags: FlagValues, run: boolean): Promise<SyncStatus> {
  const config = loadConfig(flags);
  const nc = await connectBroker(config, "actor", "chorus-sync", undefined, { reconnect: false });
  try {
    return await call(nc, at(primeSync), run ? { run } : {}, run ? 600_000 : 3000);
  } finally {
    await nc.close();
  }
}

function print(status: SyncStatus, asJson: boolean): void {
  if (asJson) {
    process.stdout.write(json(status.nodes));
    return;
  }
  const now = Date.now();
  const rows = status.nodes.map((n) => ({
    id: n.id,
    kind: n.kind,
    host: n.host,
    files: n.files,
    "in-sync": n.inSync,
    missing: n.missing,
    conflicts: n.conflicts,
    "in-flight": n.inFlight,
    seen: n.seenAt ? `${seconds(now - n.seenAt)} ago` : "never",
    error: n.lastError ?? "",
  }));
  const columns = ["id", "kind", "host", "files", "in-sync", "missing", "conflicts", "in-flight"];
  columns.push("seen", "error");
  process.stdout.write(table(rows, columns));
  const last = status.lastRound;
  process.stdout.write(
    `every ${seconds(status.intervalMs)}; ${status.rounds} rounds` +
      (last
        ? `; last ${seconds(now - last.at)} ago took ${seconds(last.ms)}, moved ${last.moved}, failed ${last.failed}`
        : "") +
      "\n",
  );
  for (const t of status.inFlight) {
    process.stdout.write(`in flight: ${t.name} ${t.from} -> ${t.to} (${t.size} bytes)\n`);
  }
}

export const syncStatus: Command = {
  name: "sync status",
  summary: "music sync per control node: files in sync, missing, in flight",
  usage: `Usage: chorus sync status [--json]

Per control node: syncable WAV files, how many match the prime's copy,
how many it lacks, names whose content differs from the prime's (conflicts),
and transfers under way. --json prints one object per control node.
Needs the actor role (the data folder's secret or CHORUS_ACTOR_PASSWORD).`,
  options: { json: { type: "boolean" } },
  async run(flags) {
    print(await fetchStatus(flags, false), flags.json === true);
    return 0;
  },
};

export const syncNow: Command = {
  name: "sync now",
  summary: "run a music sync round now and print the status after it",
  usage: `Usage: chorus sync now [--json]

Asks the prime for a sync round at once (instead of waiting for the
interval) and prints \`chorus sync status\` when it has finished.`,
  options: { json: { type: "boolean" } },
  async run(flags) {
    print(await fetchStatus(flags, true), flags.json === true);
    return 0;
  },
};
