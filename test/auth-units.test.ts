import { createUser } from "@nats-io/nkeys";
import { expect } from "chai";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ChorusError } from "../wire/errors.js";
import { checkUserName, userKey } from "../actors/auth/names.js";
import { HashLimiter } from "../actors/auth/passwords.js";
import { EventKey, newEphemeralKey, openSealed, sealTo } from "../wire/seal.js";
import { SessionTable } from "../actors/auth/sessions.js";
import { FailureThrottle } from "../actors/auth/throttle.js";
import { UserStore } from "../actors/auth/users.js";

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof ChorusError ? err.code : String(err);
  }
};

describe("auth building blocks", () => {
  it("normalises user names (NFC, case fold) and refuses bad ones", () => {
    expect(userKey("Someone")).to.equal(userKey("SOMEONE"));
    expect(userKey("Zoe\u0308")).to.equal(userKey("zoë"));
    expect(userKey("Straße")).to.equal(userKey("STRASSE"));
    expect(checkUserName("Anne Marie")).to.equal("Anne Marie");
    for (const bad of [
      "",
      " x",
      "x ",
      "a  b",
      "a\tb",
      "a\u00a0b",
      "a\u202eb",
      "\udc00",
      "x".repeat(65),
    ]) {
      expect(
        codeOf(() => checkUserName(bad)),
        JSON.stringify(bad),
      ).to.equal("BAD_REQUEST");
    }
  });

  it("throttles one name after 5 failures, doubling, and forgets on success", () => {
    let now = 0;
    const t = new FailureThrottle(
      { free: 5, baseMs: 1000, maxMs: 4000, forgetMs: 60_000, maxEntries: 3 },
      () => now,
    );
    for (let i = 0; i < 5; i++) t.fail("a");
    expect(codeOf(() => t.check("a"))).to.equal(undefined);
    t.fail("a");
    expect(codeOf(() => t.check("a"))).to.equal("RATE_LIMITED");
    expect(codeOf(() => t.check("b"))).to.equal(undefined);
    now += 1001;
    expect(codeOf(() => t.check("a"))).to.equal(undefined);
    t.fail("a"); // 2 s
    now += 1500;
    expect(codeOf(() => t.check("a"))).to.equal("RATE_LIMITED");
    for (let i = 0; i < 5; i++) t.fail("a"); // capped at 4 s
    now += 4001;
    expect(codeOf(() => t.check("a"))).to.equal(undefined);
    t.succeed("a");
    t.fail("a");
    expect(codeOf(() => t.check("a"))).to.equal(undefined);
  });

  it("seals a token only its key pair can open, and detects tampering", () => {
    const mine = newEphemeralKey();
    const sealed = sealTo(mine.publicKey, "the-token", "aad");
    expect(openSealed(mine, sealed, "aad")).to.equal("the-token");
    expect(JSON.stringify(sealed)).not.to.include("the-token");
    expect(codeOf(() => openSealed(newEphemeralKey(), sealed, "aad"))).to.equal("INTERNAL");
    expect(codeOf(() => openSealed(mine, sealed, "other"))).to.equal("INTERNAL");
    const zero = Buffer.alloc(32).toString("base64url");
    expect(codeOf(() => sealTo(zero, "t", "aad"))).to.equal("BAD_REQUEST");
    const key = new EventKey("actor-secret");
    expect(key.open(key.seal("event"))).to.equal("event");
    expect(new EventKey("other-secret").open(key.seal("event"))).to.equal(undefined);
  });

  it("ends sessions after missed beats and refuses other tokens", () => {
    let now = 0;
    const table = new SessionTable(600, () => now);
    const { session, token } = table.open("someone", "Someone", createUser().getPublicKey());
    const other = table.open("finaluser", "FinalUser", createUser().getPublicKey());
    expect(codeOf(() => table.check(session.id, other.token))).to.equal("UNAUTHORIZED");
    now = 500;
    table.beat(session.id, token);
    now = 1000;
    expect(table.sweep()).to.equal(1); // the other one, never beaten
    expect(table.check(session.id, token).user).to.equal("Someone");
    now = 1700;
    expect(codeOf(() => table.beat(session.id, token))).to.equal("UNAUTHORIZED");
    expect(table.size).to.equal(0);
  });

  it("runs at most N hashes at once and refuses beyond the queue", async () => {
    const limiter = new HashLimiter(2, 1);
    let running = 0;
    let peak = 0;
    const release: Array<() => void> = [];
    const work = (): Promise<void> =>
      new Promise<void>((resolve) => {
        running++;
        peak = Math.max(peak, running);
        release.push(() => {
          running--;
          resolve();
        });
      });
    const runs = [limiter.run(work), limiter.run(work), limiter.run(work)];
    const refused = await limiter.run(work).catch((e: unknown) => e);
    expect(refused).to.have.property("code", "RATE_LIMITED");
    while (release.length || running) {
      release.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(runs);
    expect(peak).to.equal(2);
  });

  it("lets claimed logins ahead of the queue and never refuses them", async () => {
    const limiter = new HashLimiter(1, 1);
    const order: string[] = [];
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const first = limiter.run(() => gate);
    const ordinary = limiter.run(async () => void order.push("ordinary"));
    const refused = await limiter.run(async () => undefined).catch((e: unknown) => e);
    expect(refused).to.have.property("code", "RATE_LIMITED");
    const claimed = [1, 2].map(() => limiter.run(async () => void order.push("claimed"), true));
    open();
    await Promise.all([first, ordinary, ...claimed]);
    expect(order).to.deep.equal(["claimed", "claimed", "ordinary"]);
  });

  it("SQLite: processes opening a fresh file at once; the newest version wins", async function () {
    this.timeout(30_000);
    const dir = mkdtempSync(path.join(tmpdir(), "chorus-users-"));
    const file = path.join(dir, "auth", "users.sqlite");
    const users = new URL("../actors/auth/users.js", import.meta.url).href;
    const script = `const { UserStore } = await import(${JSON.stringify(users)});
      const s = await UserStore.open(${JSON.stringify(file)}); await s.close();`;
    const opener = (): Promise<number | null> =>
      new Promise((resolve) =>
        spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: "inherit" }).once(
          "exit",
          resolve,
        ),
      );
    try {
      expect(await Promise.all([opener(), opener(), opener()])).to.deep.equal([0, 0, 0]);
      const a = await UserStore.open(file);
      const b = await UserStore.open(file);
      try {
        expect((await a.all()).map((u) => u.name)).to.deep.equal([
          "AnotherUser",
          "FinalUser",
          "Someone",
        ]);
        const v1 = { key: "x", name: "X", hash: "$argon2id$1", updatedAt: 10, origin: "h1" };
        const v2 = { ...v1, hash: "$argon2id$2", updatedAt: 20 };
        await Promise.all([a.upsert(v2), b.upsert(v1), a.upsert(v1), b.upsert(v2)]);
        expect(await b.upsert(v1)).to.equal(false);
        expect((await a.find("x"))?.hash).to.equal("$argon2id$2");
        expect(await a.integrityCheck()).to.equal("ok");
      } finally {
        await a.close();
        await b.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
