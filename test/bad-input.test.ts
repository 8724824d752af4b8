import { at } from "../wire/contract.js";
import { controlSpawn, primeAssign, primeNodes, primeSpawn } from "../wire/prime.js";
import type { NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import { call, type Reply } from "../actors/runtime/endpoint.js";
import { encodeJson } from "../wire/codec.js";
import { subjects } from "../wire/subjects.js";
import { TestSystem } from "../harness/system.js";

describe("bad input to the control plane", function () {
  this.timeout(30_000);
  let sys: TestSystem;
  let nc: NatsConnection;
  let primeId: string;

  before(async () => {
    sys = new TestSystem();
    await sys.startBroker();
    primeId = (await sys.startControl("prime", sys.config("prime", { maxLoad: 2 }))).id;
    nc = await sys.connect("actor");
  });
  after(async () => sys.cleanup());

  /** Send raw bytes and return the error code of the reply. */
  async function rawError(subject: string, body: Uint8Array): Promise<string | undefined> {
    const msg = await nc.request(subject, body, { timeout: 10_000 });
    const reply = msg.json<Reply<unknown>>();
    return reply.ok ? undefined : reply.error.code;
  }

  const text = (s: string): Uint8Array => new TextEncoder().encode(s);
  const cases: Array<[string, Uint8Array, string]> = [
    ["malformed JSON", text("{kind: auth"), "BAD_JSON"],
    ["not UTF-8", new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), "BAD_JSON"],
    ["a JSON string instead of an object", text('"auth"'), "BAD_REQUEST"],
    ["a missing kind", text("{}"), "BAD_REQUEST"],
    ["an unknown node kind", text('{"kind":"prime"}'), "BAD_REQUEST"],
    ["a kind of the wrong type", text('{"kind":["auth"]}'), "BAD_REQUEST"],
    [
      "an oversized body",
      text(JSON.stringify({ kind: "auth", pad: "x".repeat(100_000) })),
      "TOO_LARGE",
    ],
  ];

  for (const [what, body, code] of cases) {
    it(`answers ${what} with ${code}, at the prime and at a control node`, async () => {
      expect(await rawError(at(primeSpawn).subject, body)).to.equal(code);
      expect(await rawError(at(controlSpawn, primeId).subject, body)).to.equal(code);
      expect(await rawError(at(primeAssign).subject, body)).to.equal(code);
    });
  }

  it("answers a body as large as the broker carries with TOO_LARGE, and keeps running", async () => {
    // The largest body that reaches the prime at all (the client refuses more itself).
    const max = nc.info?.max_payload ?? 0;
    expect(max, "the broker's max_payload").to.be.above(100_000);
    const body = text(JSON.stringify({ kind: "auth", pad: "x".repeat(max - 1024) }));
    expect(await rawError(at(primeSpawn).subject, body)).to.equal("TOO_LARGE");
    expect(await rawError(at(controlSpawn, primeId).subject, body)).to.equal("TOO_LARGE");
    const list = await call(nc, at(primeNodes), {});
    expect(list.map((n) => n.id)).to.include(primeId);
  });

  it("ignores malformed and mismatched presence, keeping the registry true", async () => {
    nc.publish(subjects.presence("auth", "junk-1"), text("not json"));
    nc.publish(subjects.presence("auth", "junk-2"), encodeJson({ id: "junk-2", kind: "auth" }));
    const valid = {
      id: "elsewhere",
      kind: "auth",
      owner: primeId,
      host: "h",
      load: 0,
      capacity: 2,
      intervalMs: 200,
      status: "up",
      startedAt: Date.now(),
      pid: 1,
    };
    // A valid body on another node's subject is not that node's presence.
    nc.publish(subjects.presence("auth", "junk-3"), encodeJson(valid));
    await nc.flush();
    const list = await call(nc, at(primeNodes), {});
    expect(list.map((n) => n.id)).to.deep.equal([primeId]);
  });

  it("keeps serving after all of it", async () => {
    const node = await call(nc, at(primeSpawn), { kind: "file" }, 20_000);
    sys.track(node.pid);
    expect(node).to.include({ kind: "file", owner: primeId });
  });
});
