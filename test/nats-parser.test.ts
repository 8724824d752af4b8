/**
 * patches/@nats-io+nats-core: the client's parser gives a message split
 * across socket reads room for its whole payload at once. Every byte of
 * every size must still arrive as sent.
 */
import { createHash, randomBytes } from "node:crypto";
import { expect } from "chai";
import { TestSystem } from "../harness/system.js";
import { waitFor } from "../harness/wait.js";

const digest = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

describe("large messages through the patched nats.js parser (real nats-server)", function () {
  this.timeout(30_000);
  let sys: TestSystem;
  before(async () => {
    sys = new TestSystem();
    await sys.startBroker();
  });
  after(async () => sys?.cleanup());

  it("delivers messages of 0 B to 1 MB, split anywhere across reads, byte for byte and in order", async () => {
    const sender = await sys.connect("actor");
    const receiver = await sys.connect("actor");
    const sizes = [0, 1, 2, 100, 65_535, 65_536, 65_537, 88_200, 131_072, 1_000_000];
    for (let i = 0; i < 60; i++) sizes.push(Math.floor(Math.random() * 400_000));
    const sent = sizes.map((n) => randomBytes(n));
    const got: string[] = [];
    receiver.subscribe("parser.test", { callback: (_err, msg) => void got.push(digest(msg.data)) });
    await receiver.flush();
    for (const payload of sent) sender.publish("parser.test", payload);
    await sender.flush();
    await waitFor(() => got.length === sent.length, "every message");
    expect(got).to.deep.equal(sent.map(digest));
  });
});
