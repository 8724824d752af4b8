import { errorLine, runCli } from "./cli.js";

// A closed terminal (SIGHUP) makes writes fail: that must not stop us from
// stopping what we started.
for (const stream of [process.stdout, process.stderr]) stream.on("error", () => undefined);

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`chorus: ${errorLine(err)}\n`);
    process.exitCode = 1;
  },
);
