/**
 * `chorus monitor`: one line per message on `chorus.>` (or a given subject).
 * It connects with the actor role (the data folder's secret), so it is an
 * operator's tool; secret fields are masked before printing.
 */
import { loadConfig } from "../../actors/runtime/config.js";
import { connectBroker } from "../../actors/runtime/connect.js";
import type { Command } from "../command.js";
import { printable } from "../printable.js";

const secretKey = /pass|token|secret|claim|cookie/i;

/**
 * The body as one line of JSON with every value under a secret-looking key
 * masked — whole objects and arrays too, so nothing nested in them shows.
 */
export function redact(text: string, bytes = Buffer.byteLength(text)): string {
  try {
    return JSON.stringify(JSON.parse(text), (key, value: unknown) =>
      secretKey.test(key) && value !== null ? "***" : value,
    );
  } catch {
    return `<${bytes} bytes, not JSON>`;
  }
}

export const monitor: Command = {
  name: "monitor",
  summary: "print messages on chorus.> (or SUBJECT), one line each",
  usage: `Usage: chorus monitor [SUBJECT]

Needs the actor role: run it on a machine whose data folder holds the broker
secret, or set CHORUS_ACTOR_PASSWORD. Secret fields are printed as ***.`,
  async run(flags, args) {
    const config = loadConfig(flags);
    const subject = args[0] ?? "chorus.>";
    const nc = await connectBroker(config, "actor", "chorus-monitor");
    const sub = nc.subscribe(subject);
    const stop = (): void => sub.unsubscribe();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    for await (const msg of sub) {
      const time = new Date().toISOString().slice(11, 23);
      const body =
        msg.data.length > 2048
          ? `<${msg.data.length} bytes>`
          : redact(msg.string(), msg.data.length);
      process.stdout.write(printable(`${time} ${msg.subject} ${body}`) + "\n");
    }
    await nc.close();
    return 0;
  },
};
