/**
 * `chorus player`: the interactive terminal player. Logs in (asking for the
 * password without echo), then hands the terminal to the screen; every way
 * out — q, Ctrl-C, a signal, a crash — restores the terminal and logs out.
 */
import { loadConfig } from "../../actors/runtime/config.js";
import { ChorusError } from "../../wire/errors.js";
import type { Command } from "../command.js";
import { getCredentials } from "../credentials.js";
import type { Player } from "../../client/player.js";
import { PromptCancelled } from "../prompt.js";
import { PlayerApp } from "../screen/app.js";
import { Terminal } from "../screen/terminal.js";
import { outputFor, qualityFlag, startPlayer } from "./listen.js";
import { printable } from "../printable.js";

const maxAttempts = 3;

export const playerCommand: Command = {
  name: "player",
  summary: "the interactive terminal player",
  usage: `Usage: chorus player [--user NAME] [--out FILE.wav|null|speaker]
                    [--quality lossless|high|normal|low]

Logs in (the password is asked without echo, or taken from CHORUS_PASSWORD),
then shows the songs on the left and what is playing on the right.
Keys: ↑/↓ select, Enter play, Space pause/resume, ←/→ seek 10 s, s stop,
n/p next/previous, j join a P2P host, r refresh, q quit.
  --user NAME        who logs in (asked when missing)
  --out ...          where audio goes (default: the sound card when one works,
                     else DATA/player.wav; the screen says which)
  --quality LEVEL    lossless (default), high (Opus 256 kbit/s), normal (128k)
                     or low (64k): what file nodes send; the screen shows it`,
  options: {
    user: { type: "string", short: "u" },
    out: { type: "string", short: "o" },
    quality: { type: "string", short: "q" },
  },
  async run(flags) {
    if (!process.stdin.isTTY || !process.stdout.isTTY) {
      throw new ChorusError(
        "BAD_REQUEST",
        "chorus player needs a terminal; use chorus play SONG in scripts",
      );
    }
    const config = loadConfig(flags);
    const quality = qualityFlag(flags);
    const output = await outputFor(flags, config, true);
    let player: Player | undefined;
    for (let attempt = 1; !player; attempt++) {
      try {
        const credentials = await getCredentials(flags);
        player = await startPlayer(config, credentials, output, { quality });
      } catch (err) {
        if (err instanceof PromptCancelled) return 130;
        const retry =
          err instanceof ChorusError &&
          err.code === "UNAUTHORIZED" &&
          !process.env.CHORUS_PASSWORD &&
          attempt < maxAttempts;
        if (!retry) throw err;
        process.stderr.write(`${printable(err.message)}; try again\n`);
      }
    }
    return runScreen(player);
  },
};

async function runScreen(player: Player): Promise<number> {
  const terminal = new Terminal();
  const app = new PlayerApp(player, terminal);
  let code = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    code = signal === "SIGINT" ? 130 : signal === "SIGHUP" ? 129 : 143;
    app.quit();
  };
  const onCrash = (err: unknown): void => {
    // Give the terminal back first, so the error is readable and the shell usable.
    terminal.leave();
    process.stderr.write(
      `chorus: ${printable(err instanceof Error ? err.message : String(err))}\n`,
    );
    void player.close().finally(() => process.exit(1));
    setTimeout(() => process.exit(1), 3000).unref();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);
  process.on("uncaughtException", onCrash);
  process.on("unhandledRejection", onCrash);
  try {
    await app.run();
  } finally {
    terminal.leave();
    await player.close();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("SIGHUP", onSignal);
    process.off("uncaughtException", onCrash);
    process.off("unhandledRejection", onCrash);
  }
  return app.interrupted ? 130 : code;
}
