#!/usr/bin/env node
// The `chorus` command. The TypeScript sources are compiled to dist/ by
// `npm run build` (npm start and npm test do it for you).
import { existsSync } from "node:fs";

const entry = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write("chorus: not built yet; run `npm run setup` in the project folder\n");
  process.exit(1);
}
await import(entry.href);
