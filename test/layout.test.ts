/**
 * The tree tells the story only while its layers hold: the contract (wire/)
 * depends on nothing of ours, the listener SDK (client/) only on the
 * contract and the runtime, no node kind on the CLI, and no module on
 * itself through a circle of imports (type imports count: they are coupling).
 */
import { expect } from "chai";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { repoRoot } from "../harness/system.js";

const folders = ["wire", "actors", "broker", "client", "cli", "harness", "bench", "test"];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) return sources(file);
    return file.endsWith(".ts") ? [file] : [];
  });
}

/** Each source file (relative to the root) and the project files it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const folder of folders) {
    for (const file of sources(path.join(repoRoot, folder))) {
      const text = readFileSync(file, "utf8");
      const imports = [...text.matchAll(/^(?:import|export)[^;]*?from\s+"(\.[^"]+)"/gms)].map((m) =>
        path.relative(repoRoot, path.resolve(path.dirname(file), m[1]!.replace(/\.js$/, ".ts"))),
      );
      graph.set(path.relative(repoRoot, file), imports);
    }
  }
  return graph;
}

/** Groups of files that import each other in a circle (Tarjan's strongly connected components). */
function circles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1) found.push(group.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** Imports from files under `from` into anything outside `allowed`. */
function crossings(graph: Map<string, string[]>, from: string, allowed: string[]): string[] {
  const bad: string[] = [];
  for (const [file, imports] of graph) {
    if (!file.startsWith(from)) continue;
    for (const target of imports) {
      if (!allowed.some((a) => target.startsWith(a))) bad.push(`${file} -> ${target}`);
    }
  }
  return bad;
}

describe("layout", () => {
  const graph = importGraph();

  it("has no import circle", () => {
    expect(circles(graph)).to.deep.equal([]);
  });

  it("keeps the contract free of implementation: wire/ imports only wire/", () => {
    expect(crossings(graph, "wire/", ["wire/"])).to.deep.equal([]);
  });

  it("keeps the listener SDK apart: client/ imports only client/, wire/ and actors/runtime/", () => {
    expect(crossings(graph, "client/", ["client/", "wire/", "actors/runtime/"])).to.deep.equal([]);
  });

  it("keeps the nodes apart from the CLI, the harness and the tests", () => {
    // The HTTP gateway is a client of the system: it may use the listener SDK too.
    const nodes = new Map([...graph].filter(([file]) => !file.startsWith("actors/gateway/")));
    for (const layer of ["actors/", "broker/"]) {
      expect(crossings(nodes, layer, ["actors/", "broker/", "wire/"]), layer).to.deep.equal([]);
    }
    const gateway = ["actors/", "broker/", "wire/", "client/"];
    expect(crossings(graph, "actors/gateway/", gateway)).to.deep.equal([]);
  });

  it("shares one harness: bench/ imports nothing from test/", () => {
    expect(
      crossings(graph, "bench/", [
        "bench/",
        "harness/",
        "wire/",
        "actors/",
        "client/",
        "cli/",
        "broker/",
      ]),
    ).to.deep.equal([]);
  });
});
