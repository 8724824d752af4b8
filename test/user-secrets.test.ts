/**
 * API keys, app passwords and user items (stars, playlists) travel between
 * machines as users do: made on one machine, they work on another (real
 * nats-server, two data folders, real processes and SQLite files).
 */
import { expect } from "chai";
import { createHash } from "node:crypto";
import path from "node:path";
import type { NatsConnection } from "@nats-io/transport-node";
import { call } from "../actors/runtime/endpoint.js";
import { UserStore } from "../actors/auth/users.js";
import { UserSession } from "../client/auth.js";
import { at } from "../wire/contract.js";
import { authItems } from "../wire/user-data.js";
import { TestSystem } from "../harness/system.js";
import { waitFor } from "../harness/wait.js";

describe("API keys, app passwords and user items across machines", function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let actor: NatsConnection;
  let listener: NatsConnection;
  const sessions: UserSession[] = [];

  before(async () => {
    sys = new TestSystem();
    await sys.startBroker();
    actor = await sys.connect("actor");
    listener = await sys.connect("listener");
    // Machine "a" runs no node: every auth node lives on machine "b".
    await sys.startControl("prime", sys.config("a", { maxLoad: 0 }));
    await sys.startControl("plane", sys.config("b", { maxLoad: 2 }));
  });

  after(async () => {
    for (const s of sessions.splice(0)) await s.logout().catch(() => undefined);
    for (const n of await sys.nodes(actor).catch(() => [])) sys.track(n.pid);
    await sys.cleanup();
  });

  /** `chorus ARGS` on machine `machine`; its last line. */
  const chorus = async (machine: string, ...args: string[]): Promise<string> => {
    const proc = sys.run(args, sys.config(machine));
    proc.child.stdin?.end();
    expect(await proc.exited, proc.output()).to.equal(0);
    return proc.output().trim().split("\n").pop() ?? "";
  };

  const login = async (password: string, method: "apiKey" | "token", salt?: string) => {
    const user = method === "apiKey" ? "" : "Someone";
    const session = await UserSession.login(listener, user, password, {
      method,
      salt,
      heartbeats: false,
    });
    sessions.push(session);
    return session;
  };

  it("a key and an app password made on one machine log in at another's auth node", async () => {
    const key = await chorus("a", "user", "key", "Someone");
    const app = await chorus("a", "user", "app-password", "Someone");
    const byKey = await waitFor(
      () => login(key, "apiKey").catch(() => undefined),
      "the key to work on machine b",
      10_000,
    );
    expect(byKey.user).to.equal("Someone");
    const salt = "c19b2d";
    const token = createHash("md5")
      .update(app + salt)
      .digest("hex");
    const byToken = await login(token, "token", salt);
    expect(byToken.user).to.equal("Someone");
    const wrong = await login("0".repeat(32), "token", salt).catch((err: unknown) => err);
    expect((wrong as { code?: string }).code).to.equal("UNAUTHORIZED");
  });

  it("a star set at machine b's auth node reaches machine a's SQLite file", async () => {
    const key = await chorus("a", "user", "key", "AnotherUser");
    const session = await waitFor(
      () => login(key, "apiKey").catch(() => undefined),
      "the key to work on machine b",
      10_000,
    );
    // On the actor's connection, as the gateway does (this session has no identity of its own).
    await call(
      actor,
      at(authItems, session.authNode),
      {
        ...session.credentials(),
        op: "set",
        items: [{ kind: "star", id: "song-1", value: JSON.stringify({ at: 1 }) }],
      },
      5000,
    );
    // Any chorus user command on machine a catches up with the events into its file.
    await chorus("a", "user", "key", "AnotherUser", "--list");
    const store = await UserStore.open(path.join(sys.config("a").data, "auth", "users.sqlite"));
    try {
      const items = await store.items("anotheruser", "star");
      expect(items.map((i) => i.item)).to.deep.equal(["song-1"]);
    } finally {
      await store.close();
    }
  });
});
