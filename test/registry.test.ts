import { expect } from "chai";
import type { Presence } from "../wire/presence.js";
import { Registry, type RegistryChange } from "../actors/prime/registry.js";

function beat(id: string, owner = id, overrides: Partial<Presence> = {}): Presence {
  return {
    id,
    kind: owner === id ? "plane" : "auth",
    owner,
    host: "host-a",
    load: 0,
    capacity: 2,
    intervalMs: 1000,
    status: "up",
    startedAt: 0,
    pid: 1,
    ...overrides,
  };
}

describe("registry", () => {
  it("adds a node on its first beat and drops it after the missed beats", () => {
    const changes: RegistryChange[] = [];
    const registry = new Registry(3, (c) => changes.push(c));
    registry.see(beat("auth-1", "prime-1"), 0);
    expect(registry.list(0).map((n) => n.id)).to.deep.equal(["auth-1"]);
    registry.sweep(3000);
    expect(registry.size).to.equal(1);
    registry.sweep(3001);
    expect(registry.size).to.equal(0);
    expect(changes.map((c) => c.type)).to.deep.equal(["added", "dropped"]);
  });

  it("drops a node at once when it says it is stopping", () => {
    const registry = new Registry(3);
    registry.see(beat("auth-1", "prime-1"), 0);
    registry.see(beat("auth-1", "prime-1", { status: "stopping" }), 10);
    expect(registry.size).to.equal(0);
  });

  it("drops a control node's nodes with it, and only those, even on one host", () => {
    const registry = new Registry(3);
    registry.see(beat("prime-1", "prime-1", { kind: "prime" }), 0);
    registry.see(beat("plane-1"), 0);
    registry.see(beat("auth-p", "prime-1"), 0);
    registry.see(beat("auth-x", "plane-1"), 0);
    registry.see(beat("file-x", "plane-1", { kind: "file" }), 0);
    // Everyone but plane-1 keeps beating.
    for (const id of ["prime-1", "auth-x", "file-x"])
      registry.see(
        beat(id, id === "prime-1" ? id : "plane-1", id === "prime-1" ? { kind: "prime" } : {}),
        2500,
      );
    registry.see(beat("auth-p", "prime-1"), 2500);
    registry.sweep(3500);
    expect(
      registry
        .list(3500)
        .map((n) => n.id)
        .sort(),
    ).to.deep.equal(["auth-p", "prime-1"]);
  });

  it("ignores late beats of a gone control node's nodes until it beats again", () => {
    const registry = new Registry(3);
    registry.see(beat("plane-1"), 0);
    registry.see(beat("auth-x", "plane-1"), 0);
    registry.drop("plane-1", "test", 100);
    registry.see(beat("auth-x", "plane-1"), 200);
    expect(registry.size).to.equal(0);
    registry.see(beat("plane-1"), 300);
    registry.see(beat("auth-x", "plane-1"), 300);
    expect(registry.size).to.equal(2);
  });
});
