/**
 * Issue 13, part 3 (b): a stranger's wrong guesses for a user name must not
 * lock out that user's device, which logged in before and holds a device
 * cookie; cookie-less guessing stays slowed, and a forged cookie is worth
 * nothing.
 */
import { createUser } from "@nats-io/nkeys";
import type { NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DeviceCookies, LoginThrottle } from "../actors/auth/device-cookie.js";
import { defaultThrottleRule } from "../actors/auth/throttle.js";
import { request } from "../actors/runtime/endpoint.js";
import { UserSession } from "../client/auth.js";
import {
  FileDeviceCookies,
  MemoryDeviceCookies,
  type DeviceCookieJar,
} from "../client/device-cookies.js";
import { TestSystem } from "../harness/system.js";
import { waitFor } from "../harness/wait.js";
import { authLogin } from "../wire/auth.js";
import { at } from "../wire/contract.js";
import { ChorusError } from "../wire/errors.js";
import { newEphemeralKey } from "../wire/seal.js";

const password = "password123";

async function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => "ok",
    (e: unknown) => (e instanceof ChorusError ? e.code : String(e)),
  );
}

/** `text` with the character at `at` (negative: from the end) changed. */
function flip(text: string, at: number): string {
  const i = at < 0 ? text.length + at : at;
  return text.slice(0, i) + (text[i] === "A" ? "B" : "A") + text.slice(i + 1);
}

/** A jar that always offers `cookie` and keeps nothing: a forger's client. */
const fixedJar = (cookie: string): DeviceCookieJar => ({ get: () => cookie, set: () => undefined });

describe("device cookies (units)", () => {
  let clock = 1_000_000;
  const now = (): number => clock;

  it("verify only for the name they were issued for, under the deployment's secret, while fresh", () => {
    const cookies = new DeviceCookies("secret-a", now);
    const cookie = cookies.issue("someone");
    expect(cookie).to.match(/^d1\./);
    expect(cookie).not.to.include("someone");
    const id = cookies.verify(cookie, "someone");
    expect(id).to.be.a("string");
    expect(cookies.verify(cookie, "anotheruser"), "another name").to.equal(undefined);
    expect(new DeviceCookies("secret-b", now).verify(cookie, "someone"), "other secret").to.equal(
      undefined,
    );
    for (const at of [-1, -10]) {
      // -1: base64url's spare bits; the same MAC bytes spelt otherwise do not verify either.
      expect(cookies.verify(flip(cookie, at), "someone"), `altered MAC at ${at}`).to.equal(
        undefined,
      );
    }
    const [v, cid, , mac] = cookie.split(".");
    const later = (clock + 1).toString(36);
    expect(cookies.verify(`${v}.${cid}.${later}.${mac}`, "someone"), "altered time").to.equal(
      undefined,
    );
    for (const junk of [undefined, "", "d1", "x".repeat(256), "d1.a.b.c", `${cookie}.`, "🍪"]) {
      expect(cookies.verify(junk, "someone"), String(junk)).to.equal(undefined);
    }
    clock += cookies.maxAgeMs + 1;
    expect(cookies.verify(cookie, "someone"), "expired").to.equal(undefined);
  });

  it("a valid cookie escapes the name's lock; its own failures lock only that cookie", () => {
    const cookies = new DeviceCookies("secret", now);
    const throttle = new LoginThrottle(cookies, defaultThrottleRule, now);
    const mine = cookies.issue("someone");
    const other = cookies.issue("someone");
    // A stranger (no cookie) locks the name.
    for (let i = 0; i < defaultThrottleRule.free + 1; i++)
      throttle.fail(throttle.check("someone", undefined));
    expect(() => throttle.check("someone", undefined)).to.throw(/for this user/);
    expect(() => throttle.check("someone", "d1.forged")).to.throw(/for this user/);
    expect(() => throttle.check("someone", cookies.issue("anotheruser"))).to.throw(/for this user/);
    expect(throttle.check("someone", mine)).to.have.property("device");
    // Failures with my cookie lock my cookie, not another device's.
    for (let i = 0; i < defaultThrottleRule.free + 1; i++)
      throttle.fail(throttle.check("someone", mine));
    expect(() => throttle.check("someone", mine)).to.throw(/from this device/);
    expect(throttle.check("someone", other)).to.have.property("device");
    // A trusted success clears that device's record, not the stranger's lock
    // on the name nor another device's.
    throttle.succeed(throttle.check("someone", other));
    expect(() => throttle.check("someone", undefined)).to.throw(/for this user/);
    expect(() => throttle.check("someone", mine)).to.throw(/from this device/);
  });

  it("jars find a cookie however the name is spelt; a file jar survives the process, mode 600", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "chorus-jar-"));
    try {
      const memory = new MemoryDeviceCookies();
      memory.set("Someone", "d1.x");
      expect(memory.get("SOMEONE")).to.equal("d1.x");
      memory.set("Someone", "y".repeat(300)); // beyond the contract's bound: not kept
      expect(memory.get("someone")).to.equal("d1.x");
      const file = path.join(dir, "jar", "device-cookies.json");
      new FileDeviceCookies(file).set("Someone", "d1.z");
      expect(statSync(file).mode & 0o777).to.equal(0o600);
      expect(new FileDeviceCookies(file).get("someone")).to.equal("d1.z");
      writeFileSync(file, "{not json");
      expect(new FileDeviceCookies(file).get("someone"), "unreadable file: empty jar").to.equal(
        undefined,
      );
      expect(readFileSync(file, "utf8")).to.equal("{not json");
      expect(existsSync(file)).to.equal(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("device cookies against a guessing stranger (real nats-server, auth nodes, SQLite)", function () {
  this.timeout(90_000);
  let sys: TestSystem;
  let listener: NatsConnection;
  const sessions: UserSession[] = [];

  beforeEach(async () => {
    sys = new TestSystem();
    await sys.startBroker();
    listener = await sys.connect("listener");
    await sys.startControl("prime", sys.config("prime", { maxLoad: 4 }));
  });
  afterEach(async function () {
    if (this.currentTest?.state === "failed") console.log(sys.outputs());
    for (const s of sessions.splice(0)) s.stopHeartbeats();
    await sys.cleanup();
  });

  it("Someone's device logs in every time while a stranger hammers Someone's name; the stranger is slowed; forged cookies get nothing", async () => {
    // Someone's device logs in once: it now holds a cookie.
    const device = new MemoryDeviceCookies();
    const first = await sys.login("Someone", password, { devices: device });
    sessions.push(first);
    const node = first.authNode;
    for (const n of await sys.nodes(await sys.connect("actor"))) sys.track(n.pid);
    const cookie = device.get("someone");
    expect(cookie, "a device cookie after the first login").to.be.a("string");
    expect(cookie).not.to.include(password);
    await first.logout();

    // The stranger's first guesses lock the name: even the right password,
    // without the cookie, is refused; the device with its cookie gets in.
    for (let i = 0; i < 6; i++) {
      const code = await codeOf(
        UserSession.loginAt(listener, node, "Someone", `first-${i}`, {
          identity: sys.identity(),
        }),
      );
      expect(code, `guess ${i}`).to.equal("UNAUTHORIZED");
    }
    const untrusted = await codeOf(
      UserSession.loginAt(listener, node, "Someone", password, {
        identity: sys.identity(),
      }),
    );
    expect(untrusted, "the right password, no cookie, name locked").to.equal("RATE_LIMITED");
    const trusted = await UserSession.loginAt(listener, node, "Someone", password, {
      identity: sys.identity(),
      devices: device,
    });
    sessions.push(trusted);
    await trusted.logout();

    // Then for 10 s the stranger guesses every 50 ms (at most 200 tries), so one
    // guess lands as soon as each lock runs out; the device logs in and out
    // every 250 ms meanwhile (at most 40 times). The pauses pace the load.
    const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
    const stranger: string[] = [];
    const started = Date.now();
    const guessing = (async () => {
      for (let i = 0; i < 200 && Date.now() - started < 10_000; i++) {
        stranger.push(
          await codeOf(
            UserSession.loginAt(listener, node, "Someone", `guess-${i}`, {
              identity: sys.identity(),
            }),
          ),
        );
        await pause(50);
      }
    })();
    const deviceCodes: string[] = [];
    while (Date.now() - started < 10_000 && deviceCodes.length < 40) {
      await pause(250);
      const t0 = Date.now();
      try {
        const s = await UserSession.loginAt(listener, node, "someone", password, {
          identity: sys.identity(),
          devices: device,
        });
        sessions.push(s);
        await s.logout();
        deviceCodes.push(`ok ${Date.now() - t0} ms`);
      } catch (err) {
        deviceCodes.push(err instanceof ChorusError ? err.code : String(err));
      }
    }
    await guessing;

    const hashed = stranger.filter((c) => c === "UNAUTHORIZED").length;
    const limited = stranger.filter((c) => c === "RATE_LIMITED").length;
    expect(deviceCodes.length, "device logins during the attack").to.be.at.least(10);
    expect(
      deviceCodes.filter((c) => !c.startsWith("ok")),
      `device logins: ${deviceCodes.join(", ")}`,
    ).to.deep.equal([]);
    expect(limited, "the stranger's guesses refused before hashing").to.be.above(0);
    // The name was locked for 1 s; then one guess each time the lock (2, 4, 8 s) ran out.
    expect(
      hashed,
      `the stranger's guesses that were checked (of ${stranger.length})`,
    ).to.be.at.most(4);
    expect(hashed + limited).to.equal(stranger.length);

    // AnotherUser's device has a cookie too (a valid one, for another name).
    const other = new MemoryDeviceCookies();
    sessions.push(await sys.login("AnotherUser", password, { devices: other }));

    // The untrusted logins below must all meet the lock, even with the right
    // password: guess on until the name is locked for 2 s more (a guess made
    // once the lock ran out locks it for 16 s). They hash nothing: well under 2 s.
    await waitFor(
      async () => {
        const err = await UserSession.loginAt(listener, node, "Someone", "one-more-guess", {
          identity: sys.identity(),
        }).then(
          () => undefined,
          (e: unknown) => e,
        );
        if (!(err instanceof ChorusError)) return false;
        if (err.code === "UNAUTHORIZED") return true;
        const seconds = /try again in (\d+) s/.exec(err.message)?.[1];
        return err.code === "RATE_LIMITED" && Number(seconds) >= 3;
      },
      "the name locked for 2 s more",
      15_000,
      250,
    );
    const valid = cookie as string;
    const flipped = flip(valid, -10);
    const forgeries: Array<[string, string | undefined]> = [
      ["no cookie", undefined],
      ["random text", "not-a-cookie"],
      [
        "the right shape, made up",
        `d1.${"A".repeat(22)}.${Date.now().toString(36)}.${"B".repeat(43)}`,
      ],
      ["Someone's cookie, altered", flipped],
      ["AnotherUser's cookie", other.get("AnotherUser")],
    ];
    for (const [what, forged] of forgeries) {
      const jar = forged === undefined ? undefined : fixedJar(forged);
      const err = await UserSession.loginAt(listener, node, "Someone", password, {
        identity: sys.identity(),
        devices: jar,
      }).then(
        (s) => {
          sessions.push(s);
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(err, what).to.be.instanceOf(ChorusError);
      expect((err as ChorusError).code, what).to.equal("RATE_LIMITED");
      expect((err as ChorusError).message, what).to.match(/for this user/);
    }
    // A cookie beyond the contract's bound is a bad request, said plainly.
    const tooLong = await request(listener, at(authLogin, node).subject, {
      user: "Someone",
      password,
      publicKey: newEphemeralKey().publicKey,
      clientKey: createUser().getPublicKey(),
      deviceCookie: "d".repeat(257),
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(tooLong).to.be.instanceOf(ChorusError);
    expect((tooLong as ChorusError).code).to.equal("BAD_REQUEST");
    expect((tooLong as ChorusError).message).to.match(/device cookie is longer than 256/);
    // And the device with its own cookie still gets in.
    const last = await UserSession.loginAt(listener, node, "Someone", password, {
      identity: sys.identity(),
      devices: device,
    });
    sessions.push(last);
    expect(last.user).to.equal("Someone");
  });
});
