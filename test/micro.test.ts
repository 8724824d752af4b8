import { createInbox, headers, type NatsConnection } from "@nats-io/transport-node";
import { expect } from "chai";
import {
  controlSubject,
  discover,
  EndpointStats,
  MicroService,
  microResponseTypes,
  type MicroVerb,
} from "../actors/runtime/micro.js";
import { newId } from "../actors/runtime/identity.js";
import { TestSystem } from "../harness/system.js";
import { waitFor } from "../harness/wait.js";

/**
 * Ask as the nats CLI does (jsm.go serverdata.DoReq): a `{}` body asking
 * for snappy, replies to a fresh inbox, gathered until 300 ms pass without
 * one (or `waitFor` arrived), at most `timeoutMs`. Returns the raw bodies;
 * none when the broker says no one listens (status 503: "no service instances found").
 */
function askLikeTheCli(
  nc: NatsConnection,
  subject: string,
  waitFor = 0,
  timeoutMs = 5000,
): Promise<string[]> {
  return new Promise((resolve) => {
    const bodies: string[] = [];
    const inbox = createInbox();
    const done = (): void => {
      clearTimeout(overall);
      clearTimeout(finisher);
      sub.unsubscribe();
      resolve(bodies);
    };
    const overall = setTimeout(done, timeoutMs);
    let finisher = setTimeout(done, timeoutMs);
    const sub = nc.subscribe(inbox, {
      callback: (err, msg) => {
        if (err || msg.headers?.code === 503) return done();
        clearTimeout(finisher);
        finisher = setTimeout(done, 300);
        bodies.push(msg.string());
        if (waitFor > 0 && bodies.length === waitFor) done();
      },
    });
    const hdrs = headers();
    hdrs.set("Accept-Encoding", "snappy");
    nc.publish(subject, "{}", { reply: inbox, headers: hdrs });
  });
}

type Json = Record<string, unknown>;

const namePattern = /^[a-zA-Z0-9_-]+$/;
const semverPattern = /^\d+\.\d+\.\d+/;

/**
 * The checks of the CLI's JSON schemas (jsm.go schemas/micro/v1/*.json): a
 * reply that fails them is dropped by `nats micro`, so ours must pass.
 */
function expectValid(verb: MicroVerb, reply: Json): void {
  expect(reply.type).to.equal(microResponseTypes[verb]);
  expect(reply.name).to.be.a("string").and.match(namePattern);
  expect(reply.id).to.be.a("string").and.not.equal("");
  expect(reply.version).to.be.a("string").and.match(semverPattern);
  expectStringMap(reply.metadata);
  if (verb === "INFO") {
    expect(reply.description).to.be.a("string");
    for (const endpoint of reply.endpoints as Json[]) {
      expect(endpoint.name).to.be.a("string").and.match(namePattern);
      expect(endpoint.subject).to.be.a("string").and.not.equal("");
      expect(endpoint.queue_group).to.be.a("string");
      expectStringMap(endpoint.metadata);
    }
  }
  if (verb === "STATS") {
    expect(reply.started).to.be.a("string");
    expect(new Date(reply.started as string).toISOString()).to.equal(reply.started);
    expect(reply.endpoints).to.be.an("array");
    for (const endpoint of reply.endpoints as Json[]) {
      expect(endpoint.name).to.be.a("string").and.match(namePattern);
      expect(endpoint.subject).to.be.a("string").and.not.equal("");
      expect(endpoint.queue_group).to.be.a("string");
      expect(endpoint.last_error).to.be.a("string");
      for (const field of [
        "num_requests",
        "num_errors",
        "processing_time",
        "average_processing_time",
      ]) {
        expect(Number.isSafeInteger(endpoint[field]), field).to.equal(true);
      }
    }
  }
}

function expectStringMap(value: unknown): void {
  expect(value).to.be.an("object");
  for (const v of Object.values(value as Json)) expect(v).to.be.a("string");
}

const parse = (bodies: string[]): Json[] => bodies.map((b) => JSON.parse(b) as Json);
const idsOf = (replies: Array<{ id?: unknown }>): unknown[] => replies.map((r) => r.id).sort();

describe("NATS micro discovery ($SRV.PING/INFO/STATS, real nats-server)", function () {
  this.timeout(30_000);
  let sys: TestSystem;
  let client: NatsConnection;
  const nodes: Array<{ nc: NatsConnection; service: MicroService }> = [];
  const fileIds = [newId("file"), newId("file")];
  const authId = newId("auth");

  const startNode = async (
    name: string,
    id: string,
    configure: (service: MicroService) => void = () => undefined,
  ): Promise<MicroService> => {
    const nc = await sys.connect("actor");
    const service = new MicroService(nc, {
      name,
      id,
      version: "0.1.0",
      description: `Chorus ${name} node`,
      metadata: { host: "host-test" },
    });
    configure(service);
    service.start();
    await nc.flush();
    nodes.push({ nc, service });
    return service;
  };

  before(async () => {
    sys = new TestSystem();
    await sys.startBroker();
    client = await sys.connect("actor");
  });
  after(async () => {
    await Promise.all(nodes.map((n) => n.service.stop()));
    await sys.cleanup();
  });

  let playStats: EndpointStats;
  let served: NatsConnection;
  it("answers $SRV.PING from every instance: two of one name, one of another", async () => {
    const [first] = await Promise.all([
      startNode("chorus-file", fileIds[0]!, (s) => {
        playStats = s.addEndpoint({ name: "play", subject: `chorus.file.${fileIds[0]}.play` });
        s.addEndpoint({
          name: "songs",
          subject: "chorus.file.*.songs",
          queueGroup: "songs",
          metadata: { schema: "songs-v1" },
        });
        s.addEndpoint({ name: "control", subject: "chorus.file.control.>", queueGroup: "" });
      }),
      startNode("chorus-file", fileIds[1]!),
      startNode("chorus-auth", authId),
    ]);
    served = nodes.find((n) => n.service === first)!.nc;

    const replies = parse(await askLikeTheCli(client, "$SRV.PING"));
    expect(idsOf(replies)).to.deep.equal([...fileIds, authId].sort());
    for (const reply of replies) {
      expectValid("PING", reply);
      expect(reply.version).to.equal("0.1.0");
      expect(reply.metadata).to.deep.equal({ host: "host-test" });
      expect(reply.name).to.equal(reply.id === authId ? "chorus-auth" : "chorus-file");
      expect(Object.keys(reply).sort()).to.deep.equal([
        "id",
        "metadata",
        "name",
        "type",
        "version",
      ]);
    }
    // The library's own client gathers the same three.
    expect(idsOf(await discover(client, "PING"))).to.deep.equal(idsOf(replies));
  });

  it("narrows PING to a name ($SRV.PING.<name>) and to one instance ($SRV.PING.<name>.<id>)", async () => {
    const files = parse(await askLikeTheCli(client, "$SRV.PING.chorus-file"));
    expect(idsOf(files)).to.deep.equal([...fileIds].sort());
    const one = parse(await askLikeTheCli(client, `$SRV.PING.chorus-file.${fileIds[1]}`));
    expect(idsOf(one)).to.deep.equal([fileIds[1]]);
    expect(await discover(client, "PING", { name: "chorus-auth" })).to.have.length(1);
    // A subject that names no instance is answered by none.
    expect(await discover(client, "INFO", { name: "chorus-file", id: "file-nope" })).to.deep.equal(
      [],
    );
    expect(await askLikeTheCli(client, "$SRV.PING.chorus-nope")).to.deep.equal([]);
  });

  it("lists endpoints with subject, queue_group and metadata in $SRV.INFO.<name>", async () => {
    const infos = parse(await askLikeTheCli(client, "$SRV.INFO.chorus-file"));
    expect(idsOf(infos)).to.deep.equal([...fileIds].sort());
    for (const info of infos) expectValid("INFO", info);
    const first = infos.find((i) => i.id === fileIds[0])!;
    expect(first.description).to.equal("Chorus chorus-file node");
    expect(first.endpoints).to.deep.equal([
      { name: "play", subject: `chorus.file.${fileIds[0]}.play`, queue_group: "q", metadata: {} },
      {
        name: "songs",
        subject: "chorus.file.*.songs",
        queue_group: "songs",
        metadata: { schema: "songs-v1" },
      },
      { name: "control", subject: "chorus.file.control.>", queue_group: "", metadata: {} },
    ]);
    expect(infos.find((i) => i.id === fileIds[1])!.endpoints).to.deep.equal([]);
    // All services ($SRV.INFO), as `nats micro ls` asks.
    expect(idsOf(await discover(client, "INFO"))).to.deep.equal([...fileIds, authId].sort());
  });

  it("counts real requests, errors and processing time in $SRV.STATS.<name>.<id>", async () => {
    const before = Date.now();
    const sub = served.subscribe(playStats.subject, {
      queue: playStats.queueGroup || undefined,
      callback: (_err, msg) => {
        const start = process.hrtime.bigint();
        const song = msg.string();
        const failure = song === "missing" ? `no song ${JSON.stringify(song)}` : undefined;
        msg.respond(failure ? `error: ${failure}` : `playing ${song}`);
        playStats.record(process.hrtime.bigint() - start, failure);
      },
    });
    await served.flush();
    for (const song of ["a", "b", "missing", "c"]) {
      await client.request(playStats.subject, song, { timeout: 3000 });
    }
    sub.unsubscribe();

    const [body] = await askLikeTheCli(client, `$SRV.STATS.chorus-file.${fileIds[0]}`, 1);
    const stats = JSON.parse(body!) as Json;
    expectValid("STATS", stats);
    expect(stats.id).to.equal(fileIds[0]);
    expect(Date.parse(stats.started as string)).to.be.at.most(before);
    const [play, songs] = stats.endpoints as Json[];
    expect(play).to.include({
      name: "play",
      subject: playStats.subject,
      queue_group: "q",
      num_requests: 4,
      num_errors: 1,
      last_error: 'no song "missing"',
    });
    expect(play!.processing_time).to.be.above(0);
    expect(play!.average_processing_time).to.equal(
      Math.floor((play!.processing_time as number) / 4),
    );
    expect(songs).to.include({ name: "songs", num_requests: 0, num_errors: 0, last_error: "" });
    expect(songs).to.include({ processing_time: 0, average_processing_time: 0 });

    // Every instance of the name answers $SRV.STATS.<name>; the other one counted nothing.
    const all = await discover(client, "STATS", { name: "chorus-file" });
    expect(idsOf(all)).to.deep.equal([...fileIds].sort());
    expect(all.find((s) => s.id === fileIds[1])!.endpoints).to.deep.equal([]);
  });

  it("survives garbage, replyless and wrong-subject requests: the next PING still gets all three", async () => {
    const garbage = new Uint8Array([0xff, 0xfe, 0x00, 0x7b, 0x22]);
    for (const verb of ["PING", "INFO", "STATS"] as const) {
      const subject = controlSubject(verb, "chorus-file", fileIds[0]);
      client.publish(subject, garbage); // no reply subject
      client.publish(subject, "{"); // no reply subject, broken JSON
      await client.request(subject, garbage, { timeout: 3000 }); // answered, body ignored
      client.publish(`${subject}.extra`, "{}", { reply: createInbox() }); // nobody's subject
    }
    client.publish("$SRV.NOPE", "{}", { reply: createInbox() });
    const replies = await discover(client, "PING");
    expect(idsOf(replies)).to.deep.equal([...fileIds, authId].sort());
    // The nodes' connections are neither closed nor stalled.
    for (const { nc } of nodes) {
      expect(nc.isClosed()).to.equal(false);
      await nc.flush();
    }
  });

  it("stop() takes an instance out of PING, INFO and STATS; start() brings it back", async () => {
    const node = nodes.find((n) => n.service.identity.id === fileIds[1])!;
    await node.service.stop();
    expect(node.service.running).to.equal(false);
    expect(idsOf(await discover(client, "PING"))).to.deep.equal([fileIds[0], authId].sort());
    expect(await discover(client, "STATS", { name: "chorus-file", id: fileIds[1] })).to.deep.equal(
      [],
    );
    node.service.start();
    await node.nc.flush();
    await waitFor(
      async () => (await discover(client, "PING", { name: "chorus-file" })).length === 2,
      "the restarted instance to answer PING",
    );
  });
});

describe("micro declarations (no broker)", () => {
  const nc = {} as NatsConnection; // never used: nothing here starts

  it("rejects names that are not one token, versions that are not semver, bad endpoints", () => {
    const identity = { name: "chorus-file", id: "file-1", version: "1.2.3-rc.1+build.5" };
    expect(() => new MicroService(nc, identity)).not.to.throw();
    for (const name of ["", "chorus file", "chorus.file", "chorus*", ">"]) {
      expect(() => new MicroService(nc, { ...identity, name }), name).to.throw(/service name/);
    }
    expect(() => new MicroService(nc, { ...identity, id: "a.b" })).to.throw(/service id/);
    for (const version of ["", "1.0", "v1.0.0", "01.0.0", "1.0.0-"]) {
      expect(() => new MicroService(nc, { ...identity, version }), version).to.throw(/version/);
    }
    const service = new MicroService(nc, identity);
    expect(() => service.addEndpoint({ name: "a b", subject: "x" })).to.throw(/endpoint name/);
    for (const subject of ["", "a b", "a.>.b"]) {
      expect(() => service.addEndpoint({ name: "x", subject }), subject).to.throw(/subject/);
    }
    expect(() => service.addEndpoint({ name: "x", subject: "x", queueGroup: "a b" })).to.throw(
      /queue group/,
    );
    expect(() => controlSubject("PING", undefined, "file-1")).to.throw(/needs its name/);
    expect(controlSubject("INFO", "chorus-file", "file-1")).to.equal(
      "$SRV.INFO.chorus-file.file-1",
    );
  });

  it("counts nanoseconds from bigint or number; reset zeroes the counts", () => {
    const stats = new EndpointStats({ name: "play", subject: "chorus.file.x.play" });
    stats.record(1500n);
    stats.record(1000.4);
    stats.record(500, "boom");
    stats.record(-5); // a clock step backwards counts the request, not the time
    expect(stats.report()).to.deep.equal({
      name: "play",
      subject: "chorus.file.x.play",
      queue_group: "q",
      num_requests: 4,
      num_errors: 1,
      last_error: "boom",
      processing_time: 3000,
      average_processing_time: 750,
    });
    stats.reset();
    expect(stats.report()).to.include({ num_requests: 0, processing_time: 0, last_error: "" });
  });

  it("keeps identity and metadata immutable, as ADR-32 asks", () => {
    const metadata = { host: "h1" };
    const service = new MicroService(nc, { name: "n", id: "i", version: "0.0.1", metadata });
    metadata.host = "h2";
    expect(service.ping().metadata).to.deep.equal({ host: "h1" });
    expect(Object.isFrozen(service.identity.metadata)).to.equal(true);
  });
});
