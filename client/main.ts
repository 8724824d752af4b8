import { errorLine, runCli } from "./cli.js";

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`chorus: ${errorLine(err)}\n`);
    process.exitCode = 1;
  },
);
