/**
 * `chorus monitor` as an operator runs it: a real process watching `chorus.>`
 * while a real user logs in, beats and plays. It shows the subjects, and
 * never a password, session token, claim or other secret.
 */
import { at } from "../wire/contract.js";
import { authBeat, authLogin, authLogout, authVerify } from "../wire/auth.js";
import { fileControl, filePlay } from "../wire/file.js";
import { primeAssign } from "../wire/prime.js";
import type { NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import path from "node:path";
import type { ChorusConfig } from "../actors/runtime/config.js";
import { encodeJson } from "../wire/codec.js";
import { subjects } from "../wire/subjects.js";
import type { UserSession } from "../client/auth.js";
import { findFileNode, play } from "../client/stream.js";
import { pcmOf, writeTone } from "../harness/fixtures/file.js";
import { TestSystem, type ChorusProcess } from "../harness/system.js";
import { waitFor } from "../harness/wait.js";

describe("chorus monitor (real process, real system)", function () {
  this.timeout(60_000);
  let sys: TestSystem;
  let config: ChorusConfig;
  let actor: NatsConnection;
  let listener: NatsConnection;
  let monitor: ChorusProcess;
  const sessions: UserSession[] = [];

  before(async () => {
    sys = new TestSystem();
    await sys.startBroker();
    config = sys.config("prime", { maxLoad: 4 });
    writeTone(path.join(config.music, "watched.wav"), 1.5, { rate: 8000, channels: 1 });
    await sys.startControl("prime", config);
    actor = await sys.connect("actor");
    listener = await sys.connect("listener");
    monitor = sys.run(["monitor"], config);
    // Ready once it prints what we publish: a non-JSON body shows as a placeholder.
    await waitFor(() => {
      actor.publish("chorus.test.ready", new TextEncoder().encode("not json, just text"));
      return monitor.output().includes("chorus.test.ready <19 bytes, not JSON>");
    }, "chorus monitor to print a message");
  });
  afterEach(function () {
    if (this.currentTest?.state === "failed") console.log(sys.outputs());
  });
  after(async () => {
    for (const s of sessions.splice(0)) s.stopHeartbeats();
    await sys.cleanup();
  });

  it("shows a real login, beats and a play by subject, never the password, token or claims", async () => {
    const session = await sys.login();
    sessions.push(session);
    for (const n of await sys.nodes(actor)) sys.track(n.pid);
    const { token, sessionId } = session.credentials();
    const node = await findFileNode(listener);
    const playback = await play(session.nc, session, "watched.wav", { node });
    const parts: Buffer[] = [];
    for await (const chunk of playback) parts.push(Buffer.from(chunk.data));
    expect(
      Buffer.concat(parts).equals(await pcmOf(path.join(config.music, "watched.wav"))),
    ).to.equal(true);
    // A few beats of the session (heartbeatMs apart) and the file node's checks of it.
    const beat = at(authBeat, session.authNode).subject;
    await waitFor(
      () => monitor.output().split(`${beat} `).length > 3,
      "three session beats in the monitor",
      20 * config.heartbeatMs * config.missedBeats,
    );
    await session.logout();
    await waitFor(
      () => monitor.output().includes(`${at(authLogout, session.authNode).subject} `),
      "the logout in the monitor",
    );

    const out = monitor.output();
    const lines = out.split("\n").filter((l) => / chorus\./.test(l));
    const subjectsSeen = new Set(lines.map((l) => l.split(" ")[1]));
    for (const s of [
      at(primeAssign).subject,
      at(authLogin, session.authNode).subject,
      beat,
      at(authVerify, session.authNode).subject,
      at(filePlay, node.id).subject,
      at(fileControl, node.id).subject,
      subjects.presence("auth", session.authNode),
      subjects.presence("file", node.id),
    ]) {
      expect([...subjectsSeen], s).to.include(s);
    }
    // The audio chunks show as their size or a placeholder, never as PCM.
    expect(lines.some((l) => / chorus\.audio\.\S+ <\d+ bytes(, not JSON)?>$/.test(l))).to.equal(
      true,
    );
    // The login line is there, with its password masked.
    const login = lines.find((l) => l.includes(` ${at(authLogin, session.authNode).subject} `));
    expect(login).to.match(/"password":"\*\*\*"/);
    expect(login).to.match(/"user":"Someone"/);
    // No secret anywhere: the password, the token, the claim, the actor secret.
    for (const secret of [
      "password123",
      token,
      node.claim as string,
      config.actorPassword as string,
    ]) {
      expect(out.includes(secret), `monitor output shows ${secret.slice(0, 4)}…`).to.equal(false);
    }
    // The session id is not a secret (it names the session in logs); the token beside it is masked.
    const verify = lines.find((l) => l.includes(` ${at(authVerify, session.authNode).subject} `));
    expect(verify).to.include(sessionId);
    expect(verify).to.match(/"token":"\*\*\*"/);
  });

  it("masks secrets however they are nested, and prints what is not JSON as a placeholder", async () => {
    const marker = `nested-${Date.now()}`;
    actor.publish(
      `chorus.test.${marker}`,
      encodeJson({
        user: "Someone",
        password: ["hunter2-in-an-array"],
        session: { authNode: "auth-x", sessionId: "s1", token: "token-in-an-object" },
        claims: { slot: "claim-in-an-object" },
        list: [{ secret: "secret-in-a-list" }, { apiToken: { value: "deep-token-value" } }],
        sealed: { iv: "aXY", data: "ZGF0YQ" },
      }),
    );
    // Not JSON: its size in bytes (not characters), and nothing of its content.
    actor.publish(`chorus.test.${marker}.bin`, new TextEncoder().encode("é not json!"));
    const line = await waitFor(
      () => monitor.output().match(new RegExp(`^.* chorus\\.test\\.${marker} .*$`, "m"))?.[0],
      "the nested message in the monitor",
    );
    for (const secret of [
      "hunter2-in-an-array",
      "token-in-an-object",
      "claim-in-an-object",
      "secret-in-a-list",
      "deep-token-value",
    ]) {
      expect(line).not.to.include(secret);
    }
    // What is not secret stays readable, sealed values included.
    expect(line).to.include('"user":"Someone"');
    expect(line).to.include('"sessionId":"s1"');
    expect(line).to.include('"sealed":{"iv":"aXY","data":"ZGF0YQ"}');
    await waitFor(
      () => monitor.output().includes(`chorus.test.${marker}.bin <12 bytes, not JSON>`),
      "the binary message as a placeholder",
    );
  });

  it("stops cleanly on SIGTERM", async () => {
    expect(await monitor.stop("SIGTERM")).to.equal(0);
  });
});
