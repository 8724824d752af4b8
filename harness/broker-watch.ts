/**
 * Watching a test's broker. A nats-server that exits without being stopped
 * (a panic: 2.9.10 has some) is told at once with its own last words;
 * otherwise the suite sees only the timeouts and refused connections of
 * whatever ran next. And when a suite is done, whoever is still connected
 * to its broker is a client it forgot, which would reconnect forever.
 */
import type { Broker } from "../broker/server.js";
import { waitFor } from "./wait.js";

/** Where nats-server's last words begin when it dies of an error: Go's panics and fatal signals, its own fatal log line. */
const fatalMark = /panic:|fatal error:|^SIG[A-Z]+: |\[FTL\]/m;
const wordsMax = 1500;

/**
 * `broker`, whose exit other than by its `stop()` is told to `crashed` with
 * why and what it said last: from its panic or fatal error on, or its last lines.
 */
export function watchBroker(broker: Broker, crashed: (why: string) => void): Broker {
  let stopping = false;
  let tail = "";
  let fatal: string | undefined;
  const keep = (chunk: Buffer): void => {
    const text = tail + chunk.toString();
    if (fatal === undefined) {
      const at = text.search(fatalMark);
      if (at >= 0) fatal = text.slice(at, at + wordsMax);
    } else if (fatal.length < wordsMax) {
      fatal = (fatal + chunk.toString()).slice(0, wordsMax);
    }
    tail = text.slice(-wordsMax);
  };
  broker.process.stdout?.on("data", keep);
  broker.process.stderr?.on("data", keep);
  broker.process.once("exit", (code, signal) => {
    if (stopping) return;
    const said = (fatal ?? tail).trim();
    crashed(
      `nats-server on port ${broker.port} exited on its own (${signal ?? `code ${code}`})` +
        (said ? `; it said: ${said}` : ""),
    );
  });
  return {
    ...broker,
    stop: async () => {
      stopping = true;
      await broker.stop();
    },
  };
}

/** The names of the clients still connected to the broker after `withinMs` for them to go. */
export async function connectedClients(monitorUrl: string, withinMs: number): Promise<string[]> {
  let names: string[] = [];
  await waitFor(
    async () => {
      const res = await fetch(`${monitorUrl}/connz?limit=1000`);
      const body = (await res.json()) as { connections?: Array<{ name?: string; cid: number }> };
      names = (body.connections ?? []).map((c) => c.name || `cid ${c.cid}`);
      return names.length === 0;
    },
    "the broker's clients to go",
    withinMs,
    50,
  ).catch(() => undefined);
  return names;
}
