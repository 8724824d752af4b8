/**
 * `npm run bench`: runs every `bench/*.bench.ts` (compiled to dist/bench) in
 * turn, or only those whose name contains an argument: `npm run bench -- spawn`.
 * Each prints its figures with the machine and its baseline.
 */
import { readdirSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { fileURLToPath } from "node:url";

export interface BenchModule {
  run(): Promise<void>;
}

const dir = fileURLToPath(new URL(".", import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".bench.js"))
  .filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)))
  .sort();

const cpu = cpus()[0]?.model ?? "unknown cpu";
console.log(
  `machine: ${cpus().length} x ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`,
);
for (const file of files) {
  console.log(`\n== ${file.replace(".bench.js", "")} ==`);
  const mod = (await import(new URL(file, import.meta.url).href)) as BenchModule;
  await mod.run();
}
process.exit(0);
