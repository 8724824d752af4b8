import { createUser } from "@nats-io/nkeys";
import { at } from "../wire/contract.js";
import { authBeat, authLogin, authLogout, authVerify } from "../wire/auth.js";
import { primeSpawn } from "../wire/prime.js";
import type { NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import { call, request } from "../actors/runtime/endpoint.js";
import { ChorusError } from "../wire/errors.js";
import type { NodeView } from "../wire/presence.js";
import { newEphemeralKey } from "../wire/seal.js";
import { UserSession } from "../client/auth.js";
import { publicInboxPrefix } from "../wire/permissions.js";
import { dropBoundMs, expiryMs, TestSystem } from "../harness/system.js";
import { pidAlive, waitFor } from "../harness/wait.js";

const password = "password123";

async function failure(p: Promise<unknown>): Promise<ChorusError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, "expected the request to fail").to.be.instanceOf(ChorusError);
  return err as ChorusError;
}

describe("auth nodes (real nats-server, processes, SQLite, argon2)", function () {
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

  const login = async (user: string, pass = password): Promise<UserSession> => {
    const s = await sys.login(user, pass);
    sessions.push(s);
    return s;
  };
  const authNodes = async (): Promise<NodeView[]> =>
    (await sys.nodes(actorNc)).filter((n) => n.kind === "auth").sort((a, b) => b.ageMs - a.ageMs);
  const trackAll = async (): Promise<void> => {
    for (const n of await authNodes()) sys.track(n.pid);
  };

  it("the original test: users 1-2 on the first auth node, user 3 on a second one", async () => {
    await sys.startControl("prime", sys.config("prime", { maxLoad: 4 }));
    const s1 = await login("Someone");
    const s2 = await login("anotheruser"); // names are case-folded
    const s3 = await login("FinalUser");
    await trackAll();
    expect(s2.user).to.equal("AnotherUser");
    expect(s1.authNode).to.equal(s2.authNode);
    expect(s3.authNode).not.to.equal(s1.authNode);
    const nodes = await waitFor(async () => {
      const list = await authNodes();
      return list.length === 2 && list[0]?.load === 2 && list[1]?.load === 1 && list;
    }, "registry to show 2 + 1 sessions");
    expect(nodes.map((n) => n.id)).to.deep.equal([s1.authNode, s3.authNode]);
    expect(nodes.map((n) => n.capacity)).to.deep.equal([2, 2]);
    // Tokens are 256-bit, distinct, and verify at their own node only.
    expect(Buffer.from(s1.token, "base64url")).to.have.length(32);
    expect(new Set([s1.token, s2.token, s3.token]).size).to.equal(3);
    const verified = await call(actorNc, at(authVerify, s3.authNode), s3.credentials());
    expect(verified.user).to.equal("FinalUser");
  });

  it("frees capacity on logout and on missed beats; idle nodes exit and leave the registry", async () => {
    const prime = await sys.startControl("prime", sys.config("prime", { maxLoad: 4, idleMs: 600 }));
    const s1 = await login("Someone");
    const s2 = await login("AnotherUser");
    await trackAll();
    const [first] = await authNodes();
    expect(first?.load).to.equal(2);

    await s1.logout();
    await waitFor(async () => (await authNodes())[0]?.load === 1, "load 1 after logout");
    expect(await failure(s1.beat())).to.have.property("code", "UNAUTHORIZED");
    // The freed slot is reused: the next user lands on the same node.
    const s3 = await login("FinalUser");
    expect(s3.authNode).to.equal(first?.id);

    // Stop beating: the node ends both sessions after missedBeats × heartbeat.
    s2.stopHeartbeats();
    s3.stopHeartbeats();
    const stoppedAt = Date.now();
    await waitFor(async () => (await authNodes())[0]?.load === 0, "sessions to expire");
    expect(Date.now() - stoppedAt, "ms from the last beats to the sessions' end").to.be.below(
      dropBoundMs(),
    );
    // A client that beats again learns its session is gone.
    let expired: ChorusError | undefined;
    s3.onExpired((e) => (expired = e));
    s3.startHeartbeats();
    await waitFor(() => expired, "onExpired after UNAUTHORIZED");
    expect(expired?.code).to.equal("UNAUTHORIZED");

    // Nobody left: the node stops after idleMs and its slot under maxLoad frees.
    await waitFor(async () => (await authNodes()).length === 0, "idle auth node to leave");
    await waitFor(() => !pidAlive(first!.pid), "idle auth node to exit");
    // The prime's own load follows in its next beat.
    await waitFor(
      async () => (await sys.nodes(actorNc)).find((n) => n.id === prime.id)?.load === 0,
      "the prime's load to drop to 0",
    );
  });

  it("tells a client whose node died that its session is gone", async () => {
    await sys.startControl("prime", sys.config("prime", { maxLoad: 4 }));
    let expired: ChorusError | undefined;
    const s = await sys.login("Someone", password, {
      onExpired: (e) => (expired = e),
    });
    sessions.push(s);
    const [node] = await authNodes();
    process.kill(node!.pid, "SIGKILL");
    await waitFor(() => expired, "onExpired");
    expect(s.alive).to.equal(false);
    // Logging in again works (the prime spawns a fresh node).
    const again = await login("Someone");
    await trackAll();
    expect(again.authNode).not.to.equal(node!.id);
  });

  it("a stranger reading the public inbox learns no token, password or password hash", async () => {
    await sys.startControl("prime", sys.config("prime", { maxLoad: 4 }));
    const snoop = await sys.connect("listener");
    const seen: string[] = [];
    // The public identity may read only the inbox prefix every stranger shares.
    snoop.subscribe(`${publicInboxPrefix}.>`, {
      callback: (_e, m) => {
        seen.push(m.subject + " " + m.string());
      },
    });
    await snoop.flush();
    const s1 = await login("Someone");
    const s2 = await login("AnotherUser", "password123");
    await trackAll();
    await s1.beat();
    await call(actorNc, at(authVerify, s2.authNode), s2.credentials());
    await s2.logout();
    await waitFor(() => seen.length >= 4, "the public replies to be seen");
    const all = seen.join("\n");
    expect(all).to.include(s1.sessionId); // it did see the login replies…
    // …but no beat or logout reply (those go to each session's own inbox)…
    expect(all).not.to.include('"expiresAfterMs":' + String(s1.expiresAfterMs) + "}");
    // …and not what actors receive (verify replies, user-event deliveries)…
    expect(all).not.to.include('{"v":1,"iv":');
    expect(all).not.to.include('"user":"AnotherUser"}');
    for (const secret of [s1.token, s2.token, password, "$argon2"]) {
      expect(all).not.to.include(secret); // …and no secret anywhere
    }
  });

  describe("bad input and abuse", () => {
    let node: NodeView;
    beforeEach(async () => {
      await sys.startControl("prime", sys.config("prime", { maxLoad: 4, authCapacity: 10 }));
      node = await call(actorNc, at(primeSpawn), { kind: "auth" }, 20_000);
      sys.track(node.pid);
    });
    const loginBody = (user: unknown, pass: unknown = password): unknown => ({
      user,
      password: pass,
      publicKey: newEphemeralKey().publicKey,
      clientKey: createUser().getPublicKey(),
    });
    const raw = async (
      subject: string,
      data: Uint8Array,
      nc = listener,
    ): Promise<{ code?: string }> => {
      const msg = await nc.request(subject, data, { timeout: 3000 });
      const reply = msg.json<{ ok: boolean; error?: { code: string; message: string } }>();
      expect(reply.ok).to.equal(false);
      return { code: reply.error?.code };
    };

    it("answers every malformed login with a clear error and keeps serving", async () => {
      const login = at(authLogin, node.id).subject;
      const cases: Array<[unknown, string, RegExp]> = [
        [loginBody(""), "BAD_REQUEST", /empty/],
        [loginBody("x".repeat(300)), "BAD_REQUEST", /too long/],
        [loginBody("a".repeat(65)), "BAD_REQUEST", /longer than 64/],
        [loginBody("bad\u0000name"), "BAD_REQUEST", /control/],
        [loginBody("bad\u200bname"), "BAD_REQUEST", /control|invisible/],
        [loginBody("\ud800x"), "BAD_REQUEST", /Unicode/],
        [loginBody(" Someone"), "BAD_REQUEST", /space/],
        [loginBody(42), "BAD_REQUEST", /user/],
        [loginBody("Someone", ""), "BAD_REQUEST", /password/],
        [loginBody("Someone", "p".repeat(2000)), "BAD_REQUEST", /password/],
        [{ ...(loginBody("Someone") as object), publicKey: undefined }, "BAD_REQUEST", /publicKey/],
        [
          { ...(loginBody("Someone") as object), publicKey: "A".repeat(43) },
          "BAD_REQUEST",
          /publicKey/,
        ],
        [{ ...(loginBody("Someone") as object), clientKey: undefined }, "BAD_REQUEST", /clientKey/],
        [
          { ...(loginBody("Someone") as object), clientKey: "U".repeat(56) },
          "BAD_REQUEST",
          /clientKey/,
        ],
      ];
      for (const [body, code, message] of cases) {
        const err = await failure(request(listener, login, body));
        expect(err.code, JSON.stringify(body).slice(0, 60)).to.equal(code);
        expect(err.message).to.match(message);
      }
      expect((await raw(login, new TextEncoder().encode("{not json"))).code).to.equal("BAD_JSON");
      expect((await raw(login, Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d]))).code).to.equal(
        "BAD_JSON",
      );
      // The broker caps what the public identity may send (16 KB); the node refuses a big body from anyone.
      const big = new Uint8Array(100_000).fill(0x20);
      expect(() => listener.publish(login, big)).to.throw(/max_payload/);
      expect((await raw(login, big, actorNc)).code).to.equal("TOO_LARGE");
      // Nothing changed: no session was opened, and a good login still works.
      const s = await UserSession.loginAt(listener, node.id, "Someone", password, {
        identity: sys.identity(),
      });
      sessions.push(s);
      const view = await waitFor(
        async () => (await sys.nodes(actorNc)).find((n) => n.id === node.id && n.load === 1),
        "one session",
      );
      expect(view.load).to.equal(1);
    });

    it("wrong password and unknown user look the same; failures slow down only that user", async () => {
      const wrong = await failure(
        UserSession.loginAt(listener, node.id, "Someone", "nope-nope", {
          identity: sys.identity(),
        }),
      );
      const unknown = await failure(
        UserSession.loginAt(listener, node.id, "Nobody", "nope-nope", { identity: sys.identity() }),
      );
      expect(wrong.code).to.equal("UNAUTHORIZED");
      expect([unknown.code, unknown.message]).to.deep.equal([wrong.code, wrong.message]);
      // 5 failures are free, the 6th locks the name for 1 s (one spent above).
      for (let i = 0; i < 5; i++) {
        const e = await failure(
          UserSession.loginAt(listener, node.id, "Someone", `guess-${i}`, {
            identity: sys.identity(),
          }),
        );
        expect(e.code).to.equal("UNAUTHORIZED");
      }
      const locked = await failure(
        UserSession.loginAt(listener, node.id, "someone", password, { identity: sys.identity() }),
      );
      expect(locked.code).to.equal("RATE_LIMITED");
      expect(locked.retryable).to.equal(true);
      // Someone else is not held up.
      const other = await UserSession.loginAt(listener, node.id, "AnotherUser", password, {
        identity: sys.identity(),
      });
      sessions.push(other);
      // After the 1 s lock, the right password works and clears the record.
      const s = await waitFor(
        () =>
          UserSession.loginAt(listener, node.id, "Someone", password, { identity: sys.identity() }),
        "lock to end",
        5000,
        250,
      );
      sessions.push(s);
    });

    it("a login flood is bounded: excess refused at once, sessions keep being served", async () => {
      const s = await UserSession.loginAt(listener, node.id, "Someone", password, {
        identity: sys.identity(),
      });
      sessions.push(s);
      /** When each hashed flood login (a wrong password: UNAUTHORIZED) was answered. */
      const hashedAt: number[] = [];
      const flood = Array.from({ length: 120 }, (_, i) =>
        call(
          listener,
          at(authLogin, node.id),
          {
            user: `flood-${i}`,
            password: "wrong-password",
            publicKey: newEphemeralKey().publicKey,
            clientKey: createUser().getPublicKey(),
          },
          30_000,
        ).then(
          () => "ok",
          (e: unknown) => {
            const code = e instanceof ChorusError ? e.code : String(e);
            if (code === "UNAUTHORIZED") hashedAt.push(Date.now());
            return code;
          },
        ),
      );
      // While the flood is hashing, verify and beats still answer, well inside a
      // session's expiry: hashing never holds up the node's event loop.
      const started = Date.now();
      await call(actorNc, at(authVerify, node.id), s.credentials());
      await s.beat();
      expect(Date.now() - started, "verify and beat during the flood (ms)").to.be.below(
        expiryMs() / 2,
      );
      // Users the prime sends (with a claim) go ahead of the flood: this login is
      // answered before the flood's queue has drained (not after every queued hash).
      const sent = await sys.login("FinalUser", password);
      const sentAt = Date.now();
      sessions.push(sent);
      expect(sent.authNode).to.equal(node.id);
      const codes = await Promise.all(flood);
      const busy = codes.filter((c) => c === "RATE_LIMITED").length;
      expect(codes.filter((c) => c === "UNAUTHORIZED").length + busy).to.equal(codes.length);
      expect(busy).to.be.greaterThan(0); // beyond the bounded queue: refused without hashing
      expect(sentAt, "the claimed login, against the last hashed flood login").to.be.below(
        Math.max(...hashedAt),
      );
    });

    it("refuses forged tokens, other people's sessions, and verify from listeners", async () => {
      const a = await UserSession.loginAt(listener, node.id, "Someone", password, {
        identity: sys.identity(),
      });
      const b = await UserSession.loginAt(listener, node.id, "AnotherUser", password, {
        identity: sys.identity(),
      });
      sessions.push(a, b);
      const forged = { sessionId: a.sessionId, token: b.token };
      for (const subject of [at(authBeat, node.id), at(authLogout, node.id)]) {
        expect(await failure(call(a.nc, subject, forged))).to.have.property("code", "UNAUTHORIZED");
      }
      const made = { sessionId: "x".repeat(22), token: "y".repeat(43) };
      expect(await failure(call(actorNc, at(authVerify, node.id), made))).to.have.property(
        "code",
        "UNAUTHORIZED",
      );
      expect(
        await failure(call(actorNc, at(authVerify, node.id), { sessionId: "a.b", token: "t" })),
      ).to.have.property("code", "BAD_REQUEST");
      // Nothing changed for the owner.
      const ok = await call(actorNc, at(authVerify, node.id), a.credentials());
      expect(ok.user).to.equal("Someone");
      // Verify is actor-only: the broker refuses it from a listener (its permissions
      // violation, not a timeout: the request may wait long enough to tell).
      const denied = await failure(
        call(listener, at(authVerify, node.id), a.credentials(), 10_000),
      );
      expect(denied.code, denied.message).to.equal("FORBIDDEN");
      expect(denied.message).to.match(/Permissions Violation for Publish/);
      await a.beat();
    });
  });
});
