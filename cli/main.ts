import { enforceStopDeadline } from "../actors/runtime/shutdown.js";
import { errorLine, runCli } from "./cli.js";
import { printable } from "./printable.js";

// Every chorus command stops within 2 s of Ctrl-C or SIGTERM; a second one stops it at once.
enforceStopDeadline();

// A closed terminal (SIGHUP) makes writes fail: that must not stop us from
// stopping what we started.
for (const stream of [process.stdout, process.stderr]) stream.on("error", () => undefined);

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`chorus: ${printable(errorLine(err))}\n`);
    process.exitCode = 1;
  },
);
