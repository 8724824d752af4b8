import { at } from "../wire/contract.js";
import { primeSpawn } from "../wire/prime.js";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { call } from "../actors/runtime/endpoint.js";
import { subjects } from "../wire/subjects.js";
import { encodeUserEvent } from "../actors/auth/events.js";
import { hashPassword } from "../actors/auth/passwords.js";
import { EventKey } from "../wire/seal.js";
import { UserStore } from "../actors/auth/users.js";
import { UserSession } from "../client/auth.js";
import { chorusBin, TestSystem, type ChorusProcess } from "../harness/system.js";
import { pidAlive, waitFor } from "../harness/wait.js";

const usersFileOf = (sys: TestSystem, machine: string): string =>
  path.join(sys.config(machine).data, "auth", "users.sqlite");

async function withStore<T>(file: string, use: (s: UserStore) => Promise<T>): Promise<T> {
  const store = await UserStore.open(file);
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

describe("users across machines (real nats-server, processes, SQLite, argon2)", function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let actorNc: NatsConnection;
  let listener: NatsConnection;
  const sessions: UserSession[] = [];

  beforeEach(async () => {
    sys = new TestSystem();
    await sys.startBroker();
    actorNc = await sys.connect("actor");
    listener = await sys.connect("listener");
  });
  afterEach(async () => {
    for (const s of sessions.splice(0)) s.stopHeartbeats();
    await sys.cleanup();
  });

  const userAdd = async (
    machine: string,
    name: string,
    env: NodeJS.ProcessEnv,
    stdin?: string,
    flags: string[] = [],
  ): Promise<{ code: number | string; out: string; proc: ChorusProcess }> => {
    const proc = sys.run(["user", "add", name, ...flags], sys.config(machine), env);
    if (stdin !== undefined) proc.child.stdin?.end(stdin);
    else proc.child.stdin?.end();
    const code = await proc.exited;
    return { code, out: proc.output(), proc };
  };

  it("a user added on one machine logs in on another within a second", async () => {
    // The prime's machine runs nothing: every auth node lives on the plane's machine.
    await sys.startControl("prime", sys.config("prime", { maxLoad: 0 }));
    const plane = await sys.startControl("plane", sys.config("plane", { maxLoad: 2 }));
    const first = await UserSession.login(listener, "Someone", "password123");
    sessions.push(first);
    let addedAt = 0;
    // Known on the plane's machine (its auth node wrote it to its own SQLite file) within
    // a second. Watched in the file, not by trying logins: each failed try costs a hash,
    // and five of them lock the name.
    const knownAt = await withStore(usersFileOf(sys, "plane"), async (st) => {
      const added = await userAdd("prime", "Zoë Newbie", { CHORUS_PASSWORD: "correct horse" });
      expect(added.code, added.out).to.equal(0);
      expect(added.out).to.include("added user Zoë Newbie");
      addedAt = Date.now();
      const row = await waitFor(
        () => st.find("zoë newbie"),
        "the new user in the plane's SQLite file",
        5000,
      );
      expect(row.name).to.equal("Zoë Newbie");
      return Date.now();
    });
    expect(knownAt - addedAt, "ms until the plane's machine knows the user").to.be.below(1000);
    // NFC and case folding: a decomposed, upper-case spelling finds the same user.
    const spelling = "ZOE\u0308 NEWBIE";
    const s = await UserSession.login(listener, spelling, "correct horse");
    sessions.push(s);
    expect(s.user).to.equal("Zoë Newbie");
    const node = (await sys.nodes(actorNc)).find((n) => n.id === s.authNode);
    expect(node?.owner).to.equal(plane.id);
    for (const n of await sys.nodes(actorNc)) if (n.kind === "auth") sys.track(n.pid);
  });

  it("chorus user add: --password-stdin, duplicates, bad names and passwords", async () => {
    const ok = await userAdd("m1", "Alice", {}, "s3cret-pass\n", ["--password-stdin"]);
    expect(ok.code, ok.out).to.equal(0);
    const dup = await userAdd("m1", "ALICE", { CHORUS_PASSWORD: "another-pass" });
    expect(dup.code).to.equal(1);
    expect(dup.out).to.match(/already exists/);
    const cases: Array<[string, NodeJS.ProcessEnv, RegExp]> = [
      ["Bad\u0007Name", { CHORUS_PASSWORD: "long-enough" }, /control/],
      ["", { CHORUS_PASSWORD: "long-enough" }, /empty/],
      ["x".repeat(65), { CHORUS_PASSWORD: "long-enough" }, /longer than 64/],
      ["Bob", { CHORUS_PASSWORD: "short" }, /shorter than 8/],
      ["Bob", {}, /--password-stdin or CHORUS_PASSWORD/],
    ];
    for (const [name, env, message] of cases) {
      const r = await userAdd("m1", name, { CHORUS_PASSWORD: "", ...env });
      expect(r.code, name).to.not.equal(0);
      expect(r.out, name).to.match(message);
    }
    const file = usersFileOf(sys, "m1");
    const keys = await withStore(file, async (st) => (await st.all()).map((u) => u.key));
    expect(keys).to.deep.equal(["alice", "anotheruser", "finaluser", "someone"]);
    // The hash is argon2id at the documented parameters; the password is nowhere in the file.
    const alice = await withStore(file, (st) => st.find("alice"));
    expect(alice?.hash).to.match(/^\$argon2id\$v=19\$/);
    expect(alice?.hash.split("$")[3]?.split(",").sort()).to.deep.equal(["m=19456", "p=1", "t=2"]);
  });

  it("chorus user add asks twice on a terminal, without echo", async function () {
    if (!existsSync("/usr/bin/script")) this.skip();
    // `script` gives the command a real terminal (a pty) and copies what it shows.
    const child = spawn(
      "/usr/bin/script",
      ["-qec", `${process.execPath} ${chorusBin} user add Pat`, "/dev/null"],
      { env: { ...sys.env(sys.config("tty")), CHORUS_PASSWORD: "" }, stdio: "pipe" },
    );
    sys.track(child.pid as number);
    let shown = "";
    let answered = 0;
    child.stdout.on("data", (d: Buffer) => {
      shown += d.toString();
      const prompts = shown.match(/Password( again)?: /g)?.length ?? 0;
      if (prompts > answered) {
        answered++;
        child.stdin.write("hunter2-pass\r");
      }
    });
    const code = await new Promise((resolve) => child.once("exit", resolve));
    expect(code, shown).to.equal(0);
    expect(answered).to.equal(2);
    expect(shown).to.include("added user Pat");
    expect(shown).not.to.include("hunter2");
    const row = await withStore(usersFileOf(sys, "tty"), (st) => st.find("pat"));
    expect(row?.name).to.equal("Pat");
  });

  it("the SQLite file survives a SIGKILLed auth node, and a new node catches up", async () => {
    await sys.startControl("prime", sys.config("prime", { maxLoad: 2 }));
    const added = await userAdd("prime", "Keeper", { CHORUS_PASSWORD: "keeper-pass" });
    expect(added.code, added.out).to.equal(0);
    const node = await call(actorNc, at(primeSpawn), { kind: "auth" }, 20_000);
    sys.track(node.pid);
    // A burst of user versions for the node to write while it is killed.
    const key = new EventKey("test-actor-secret");
    const hash = await hashPassword("bulk-password");
    const js = jetstream(actorNc);
    const total = 300;
    for (let i = 0; i < total; i++) {
      const row = { key: `bulk-${i}`, name: `bulk-${i}`, hash, updatedAt: Date.now(), origin: "t" };
      await js.publish(subjects.userEvents, encodeUserEvent(key, row));
    }
    const file = usersFileOf(sys, "prime");
    await waitFor(
      async () => (await withStore(file, (st) => st.all())).length > 20,
      "some users applied",
    );
    process.kill(node.pid, "SIGKILL");
    await waitFor(() => !pidAlive(node.pid), "node to die");
    await withStore(file, async (st) => {
      expect(await st.integrityCheck()).to.equal("ok");
      const keys = (await st.all()).map((u) => u.key);
      expect(keys).to.include.members(["keeper", "someone", "anotheruser", "finaluser"]);
    });
    // A fresh node catches up with every version and logs users in.
    const again = await call(actorNc, at(primeSpawn), { kind: "auth" }, 20_000);
    sys.track(again.pid);
    const s = await UserSession.loginAt(listener, again.id, "bulk-299", "bulk-password");
    sessions.push(s);
    const keeper = await UserSession.loginAt(listener, again.id, "keeper", "keeper-pass");
    sessions.push(keeper);
    const count = await withStore(file, async (st) => (await st.all()).length);
    expect(count).to.equal(total + 4);
  });
});
