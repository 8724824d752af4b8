/** Chorus's version, as package.json says: what $SRV discovery reports for every node. */
import { readFileSync } from "node:fs";

const packageJson = new URL("../../../package.json", import.meta.url);

export const chorusVersion = (JSON.parse(readFileSync(packageJson, "utf8")) as { version: string })
  .version;
