/**
 * What a round moves, decided from manifests alone (no I/O, unit-tested).
 *
 * The rule: the prime's folder is the reference. A file a plane has and the
 * prime lacks is pulled to the prime (from the oldest plane that has it); a
 * file the prime has is pushed to every plane that lacks it. When a plane
 * holds a name with other content, the prime's copy wins the name and the
 * plane's copy is kept beside it as `name (conflict <plane host>).wav`, which
 * later rounds spread like any other file. Nothing is ever deleted.
 */
import type { ManifestEntry } from "../../wire/sync.js";

export interface NodeFiles {
  id: string;
  host: string;
  files: Map<string, ManifestEntry>;
}

export interface Move {
  entry: ManifestEntry;
  /** The plane involved. */
  plane: NodeFiles;
  /** True when the plane holds this name with other content. */
  conflict: boolean;
}

export function byName(files: ManifestEntry[]): Map<string, ManifestEntry> {
  return new Map(files.map((f) => [f.name, f]));
}

/** Files to bring to the prime: each name once, from the first plane (in order) that has it. */
export function planPulls(prime: Map<string, ManifestEntry>, planes: NodeFiles[]): Move[] {
  const wanted = new Map<string, Move>();
  for (const plane of planes) {
    for (const entry of plane.files.values()) {
      if (!prime.has(entry.name) && !wanted.has(entry.name)) {
        wanted.set(entry.name, { entry, plane, conflict: false });
      }
    }
  }
  return [...wanted.values()];
}

/** Files to send to one plane: those it lacks, and those it holds with other content. */
export function planPushes(prime: Map<string, ManifestEntry>, plane: NodeFiles): Move[] {
  const moves: Move[] = [];
  for (const entry of prime.values()) {
    const theirs = plane.files.get(entry.name);
    if (!theirs) moves.push({ entry, plane, conflict: false });
    else if (theirs.hash !== entry.hash) moves.push({ entry, plane, conflict: true });
  }
  return moves;
}
