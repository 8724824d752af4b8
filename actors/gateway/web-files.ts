/**
 * The web player's static files (actors/gateway/web/): a fixed list, read
 * from disk on each request (small, and an edit shows on reload), never a
 * path taken from the URL. `no-cache` makes browsers revalidate, so a new
 * version is never hidden behind an old cached one.
 */
import { readFile } from "node:fs/promises";
import type { ServerResponse } from "node:http";

/** The folder, from dist/actors/gateway/ (compiled) back to the source tree. */
const webDir = new URL("../../../actors/gateway/web/", import.meta.url);

const files: Record<string, { file: string; type: string }> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/index.html": { file: "index.html", type: "text/html; charset=utf-8" },
  "/player.js": { file: "player.js", type: "text/javascript; charset=utf-8" },
  "/player.css": { file: "player.css", type: "text/css; charset=utf-8" },
};

/** Answers PATHNAME if it is one of the player's files; false otherwise. */
export async function serveWebFile(
  pathname: string,
  head: boolean,
  res: ServerResponse,
): Promise<boolean> {
  const entry = files[pathname];
  if (!entry) return false;
  const body = await readFile(new URL(entry.file, webDir));
  res.writeHead(200, {
    "Content-Type": entry.type,
    "Content-Length": body.length,
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
  });
  res.end(head ? undefined : body);
  return true;
}
