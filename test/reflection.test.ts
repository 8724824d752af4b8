/**
 * Reply-subject reflection (issue 13): the broker checks a publish's subject,
 * never its reply subject, and a node answers with actor rights. A listener
 * that asks with a reply of `$JS.API.STREAM.PURGE.X` must not purge X.
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { UserSession } from "../client/auth.js";
import { expect } from "chai";
import { call } from "../actors/runtime/endpoint.js";
import { encodeJson } from "../wire/codec.js";
import { at } from "../wire/contract.js";
import { primeHosts } from "../wire/p2p.js";
import { primeAssign, primeNodes } from "../wire/prime.js";
import { TestSystem } from "../harness/system.js";

describe("no reflection: nodes answer only to inboxes (real nats-server, real prime)", function () {
  this.timeout(30_000);
  let sys: TestSystem;
  let actor: NatsConnection;
  /** A logged-in player: the strongest caller a stranger can become. */
  let listener: NatsConnection;
  let session: UserSession;

  before(async () => {
    sys = new TestSystem();
    await sys.startBroker();
    await sys.startControl("prime", sys.config("prime"));
    actor = await sys.connect("actor");
    session = await sys.login();
    listener = session.nc;
  });
  after(async () => sys.cleanup());

  it("a request with a JetStream API or chorus subject as its reply changes nothing", async () => {
    const jsm = await jetstreamManager(actor);
    await jsm.streams.add({ name: "VICTIM", subjects: ["victim.>"] });
    const js = jetstream(actor);
    for (let i = 0; i < 3; i++) await js.publish("victim.in", `message ${i}`);

    const tricks: Array<[string, unknown, string]> = [
      [at(primeAssign).subject, { kind: "auth" }, "$JS.API.STREAM.PURGE.VICTIM"],
      [at(primeNodes).subject, {}, "victim.in"],
      [at(primeHosts).subject, {}, "$JS.API.STREAM.DELETE.VICTIM"],
      [at(primeNodes).subject, {}, "chorus.users.events"],
    ];
    for (const [subject, body, reply] of tricks) {
      listener.publish(subject, encodeJson(body), { reply });
    }
    // The same subjects asked properly: once these are answered, the tricks were handled.
    await call(listener, at(primeAssign), { kind: "auth" }, 20_000);
    await call(listener, at(primeNodes), {});
    await call(listener, at(primeHosts), {});

    const info = await jsm.streams.info("VICTIM");
    expect(info.state.messages, "messages in the victim stream").to.equal(3);
    // And the proper inbox still gets its answer.
    const inbox = session.newInbox();
    const sub = listener.subscribe(inbox, { max: 1 });
    listener.publish(at(primeNodes).subject, encodeJson({}), { reply: inbox });
    for await (const msg of sub) expect(msg.json<{ ok: boolean }>().ok).to.equal(true);
  });
});
