/**
 * NATS service discovery: the "micro" protocol (ADR-32, as nats.go's micro
 * package and the nats CLI speak it), so `nats micro ls|info|stats` list
 * Chorus's nodes.
 *
 * A MicroService answers $SRV.PING|INFO|STATS, $SRV.<VERB>.<name> and
 * $SRV.<VERB>.<name>.<id> with plain JSON (`io.nats.micro.v1.*` replies, not
 * Chorus's {ok,data} envelope). It only describes endpoints: the caller
 * serves each endpoint itself and records every request on the EndpointStats
 * that addEndpoint returns. `discover` is the client side: it gathers the
 * replies of every instance the way the CLI does.
 *
 * `@nats-io/services` is not used: it pins a second copy of nats-core.
 */
import { isReplyInbox } from "../../wire/ids.js";
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { Empty, NoRespondersError } from "@nats-io/transport-node";
import type { Logger } from "./log.js";

export const microApiPrefix = "$SRV";
/** The queue group of an endpoint that names none (ADR-32). */
export const defaultQueueGroup = "q";

export type MicroVerb = "PING" | "INFO" | "STATS";
export const microVerbs: readonly MicroVerb[] = ["PING", "INFO", "STATS"];

export const microResponseTypes = {
  PING: "io.nats.micro.v1.ping_response",
  INFO: "io.nats.micro.v1.info_response",
  STATS: "io.nats.micro.v1.stats_response",
} as const;

// The rules of nats.go's micro package (and the CLI's JSON schemas): a name
// or id is one subject token; a version is semver (semver.org's own regex).
const namePattern = /^[A-Za-z0-9\-_]+$/;
const semverPattern =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;
const subjectPattern = /^[^ >]*>?$/;
const queueGroupPattern = /^[^ >]*$/;

export interface ServiceIdentity {
  /** The kind of service, shared by all its instances. */
  name: string;
  /** This instance, unique among the instances of `name`. */
  id: string;
  version: string;
  description?: string;
  metadata?: Record<string, string>;
}

export interface MicroEndpoint {
  name: string;
  subject: string;
  /** Default "q"; "" for an endpoint served without a queue group. */
  queueGroup?: string;
  metadata?: Record<string, string>;
}

export interface PingResponse {
  type: typeof microResponseTypes.PING;
  name: string;
  id: string;
  version: string;
  metadata: Record<string, string>;
}

export interface EndpointInfo {
  name: string;
  subject: string;
  queue_group: string;
  metadata: Record<string, string>;
}

export interface InfoResponse extends Omit<PingResponse, "type"> {
  type: typeof microResponseTypes.INFO;
  description: string;
  endpoints: EndpointInfo[];
}

export interface EndpointStatsReport {
  name: string;
  subject: string;
  queue_group: string;
  num_requests: number;
  num_errors: number;
  /** "" until an error is recorded. */
  last_error: string;
  /** Nanoseconds. */
  processing_time: number;
  /** Nanoseconds: processing_time / num_requests. */
  average_processing_time: number;
}

export interface StatsResponse extends Omit<PingResponse, "type"> {
  type: typeof microResponseTypes.STATS;
  /** When the service started (or was reset), ISO 8601 in UTC. */
  started: string;
  endpoints: EndpointStatsReport[];
}

export interface MicroResponses {
  PING: PingResponse;
  INFO: InfoResponse;
  STATS: StatsResponse;
}

/** $SRV.<VERB>, $SRV.<VERB>.<name> or $SRV.<VERB>.<name>.<id>. */
export function controlSubject(verb: MicroVerb, name?: string, id?: string): string {
  if (id !== undefined && name === undefined) throw new Error("a service id needs its name");
  if (name !== undefined) checkName("service name", name);
  if (id !== undefined) checkName("service id", id);
  return [microApiPrefix, verb, name, id].filter((part) => part !== undefined).join(".");
}

function checkName(what: string, value: string): void {
  if (!namePattern.test(value)) {
    throw new Error(`invalid ${what} ${JSON.stringify(value)}: use A-Z, a-z, 0-9, - and _`);
  }
}

/** What one endpoint reports: requests, errors and processing time. */
export class EndpointStats {
  readonly name: string;
  readonly subject: string;
  /** The queue group to serve the endpoint with ("" for none). */
  readonly queueGroup: string;
  readonly metadata: Readonly<Record<string, string>>;
  private requests = 0;
  private errors = 0;
  private lastError = "";
  private processingNs = 0n;

  constructor(endpoint: MicroEndpoint) {
    checkName("endpoint name", endpoint.name);
    if (!endpoint.subject || !subjectPattern.test(endpoint.subject)) {
      throw new Error(`invalid endpoint subject ${JSON.stringify(endpoint.subject)}`);
    }
    const queueGroup = endpoint.queueGroup ?? defaultQueueGroup;
    if (!queueGroupPattern.test(queueGroup)) {
      throw new Error(`invalid queue group ${JSON.stringify(queueGroup)}`);
    }
    this.name = endpoint.name;
    this.subject = endpoint.subject;
    this.queueGroup = queueGroup;
    this.metadata = Object.freeze({ ...endpoint.metadata });
  }

  /**
   * Count one handled request that took `elapsedNs` nanoseconds (e.g.
   * `process.hrtime.bigint() - start`); with `error`, count it as failed too.
   */
  record(elapsedNs: bigint | number, error?: string): void {
    this.requests++;
    this.processingNs += nonNegativeNs(elapsedNs);
    if (error !== undefined) {
      this.errors++;
      this.lastError = error;
    }
  }

  reset(): void {
    this.requests = 0;
    this.errors = 0;
    this.lastError = "";
    this.processingNs = 0n;
  }

  info(): EndpointInfo {
    return {
      name: this.name,
      subject: this.subject,
      queue_group: this.queueGroup,
      metadata: { ...this.metadata },
    };
  }

  report(): EndpointStatsReport {
    const average = this.requests > 0 ? this.processingNs / BigInt(this.requests) : 0n;
    return {
      name: this.name,
      subject: this.subject,
      queue_group: this.queueGroup,
      num_requests: this.requests,
      num_errors: this.errors,
      last_error: this.lastError,
      // JSON has no bigint; a number stays exact up to 104 days of total time.
      processing_time: Number(this.processingNs),
      average_processing_time: Number(average),
    };
  }
}

function nonNegativeNs(elapsedNs: bigint | number): bigint {
  if (typeof elapsedNs === "bigint") return elapsedNs > 0n ? elapsedNs : 0n;
  return Number.isFinite(elapsedNs) && elapsedNs > 0 ? BigInt(Math.round(elapsedNs)) : 0n;
}

/** One instance of a service, discoverable on the $SRV subjects. */
export class MicroService {
  readonly identity: Readonly<ServiceIdentity>;
  private readonly endpoints: EndpointStats[] = [];
  private subscriptions: Subscription[] = [];
  private started = new Date();

  constructor(
    private readonly nc: NatsConnection,
    identity: ServiceIdentity,
    private readonly log?: Logger,
  ) {
    checkName("service name", identity.name);
    checkName("service id", identity.id);
    if (!semverPattern.test(identity.version)) {
      throw new Error(`invalid service version ${JSON.stringify(identity.version)}: use semver`);
    }
    // ADR-32: metadata is immutable once set.
    this.identity = Object.freeze({
      ...identity,
      metadata: Object.freeze({ ...identity.metadata }),
    });
  }

  /** List an endpoint in INFO and STATS; endpoints may be added after start(). */
  addEndpoint(endpoint: MicroEndpoint): EndpointStats {
    const stats = new EndpointStats(endpoint);
    this.endpoints.push(stats);
    return stats;
  }

  /** Stop listing an endpoint (its subscription is gone: a role given up). */
  removeEndpoint(stats: EndpointStats): void {
    const i = this.endpoints.indexOf(stats);
    if (i >= 0) this.endpoints.splice(i, 1);
  }

  get running(): boolean {
    return this.subscriptions.length > 0;
  }

  /** Answer the 3 verbs on their 3 subjects each. Again after stop() is allowed. */
  start(): void {
    if (this.running) return;
    this.started = new Date();
    const { name, id } = this.identity;
    for (const verb of microVerbs) {
      for (const subject of [
        controlSubject(verb),
        controlSubject(verb, name),
        controlSubject(verb, name, id),
      ]) {
        // No queue group: every instance answers discovery.
        this.subscriptions.push(
          this.nc.subscribe(subject, { callback: (err, msg) => this.answer(verb, err, msg) }),
        );
      }
    }
  }

  /** Stop answering; resolves once the broker no longer routes discovery here. */
  async stop(): Promise<void> {
    const subscriptions = this.subscriptions.splice(0);
    // Draining fails only on a closed connection, which answers nothing anyway.
    await Promise.allSettled(subscriptions.map((sub) => sub.drain()));
  }

  /** Zero the endpoints' counts and restart the `started` clock. */
  reset(): void {
    for (const endpoint of this.endpoints) endpoint.reset();
    this.started = new Date();
  }

  ping(): PingResponse {
    const { name, id, version, metadata } = this.identity;
    return { type: microResponseTypes.PING, name, id, version, metadata: { ...metadata } };
  }

  info(): InfoResponse {
    return {
      ...this.ping(),
      type: microResponseTypes.INFO,
      description: this.identity.description ?? "",
      endpoints: this.endpoints.map((endpoint) => endpoint.info()),
    };
  }

  stats(): StatsResponse {
    return {
      ...this.ping(),
      type: microResponseTypes.STATS,
      started: this.started.toISOString(),
      endpoints: this.endpoints.map((endpoint) => endpoint.report()),
    };
  }

  private reply(verb: MicroVerb): PingResponse | InfoResponse | StatsResponse {
    if (verb === "PING") return this.ping();
    return verb === "INFO" ? this.info() : this.stats();
  }

  /**
   * The request's body and headers mean nothing here (the CLI sends `{}` and
   * asks for snappy, which a plain reply may ignore). Nothing may throw out of
   * a nats.js callback: that would stall the whole connection.
   */
  private answer(verb: MicroVerb, err: Error | null, msg: Msg): void {
    try {
      if (err) {
        this.log?.warn("discovery subscription failed", { verb, error: err.message });
        return;
      }
      // Answers go out with actor rights: only ever to an inbox.
      if (!msg.reply || !isReplyInbox(msg.reply)) return;
      msg.respond(JSON.stringify(this.reply(verb)));
    } catch (failure) {
      this.log?.warn("cannot answer discovery", { verb, error: String(failure) });
    }
  }
}

export interface DiscoverOptions {
  /** Only instances of this service. */
  name?: string;
  /** Only this instance (needs `name`): the first reply ends the wait. */
  id?: string;
  /** The longest wait for replies; default 2000 ms, as nats.js's service client. */
  maxWaitMs?: number;
  /** Stop once no reply came for this long; default 300 ms, as the CLI. */
  stallMs?: number;
}

/**
 * Ask every instance (or those of `name`, or one `id`) and gather their
 * replies as `nats micro ls|info|stats` do: until no reply came for `stallMs`,
 * at most `maxWaitMs`. Replies of the wrong type or shape are skipped, as
 * the CLI skips them; no instance at all gives [].
 */
export async function discover<V extends MicroVerb>(
  nc: NatsConnection,
  verb: V,
  options: DiscoverOptions = {},
): Promise<MicroResponses[V][]> {
  const subject = controlSubject(verb, options.name, options.id);
  const maxWaitMs = options.maxWaitMs ?? 2000;
  const deadline = Date.now() + maxWaitMs;
  const found: MicroResponses[V][] = [];
  try {
    const replies = await nc.requestMany(subject, Empty, {
      strategy: "stall",
      maxWait: maxWaitMs,
      stall: options.stallMs ?? 300,
    });
    for await (const msg of replies) {
      const reply = parseReply(verb, msg);
      if (reply) found.push(reply);
      if ((options.id !== undefined && found.length > 0) || Date.now() >= deadline) break;
    }
  } catch (err) {
    // The broker says no one subscribes: there is no such instance.
    const noResponders =
      err instanceof NoRespondersError ||
      (err instanceof Error && err.cause instanceof NoRespondersError);
    if (!noResponders) throw err;
  }
  return found;
}

function parseReply<V extends MicroVerb>(verb: V, msg: Msg): MicroResponses[V] | undefined {
  let body: unknown;
  try {
    body = msg.json();
  } catch {
    return undefined;
  }
  if (typeof body !== "object" || body === null) return undefined;
  const reply = body as Partial<Record<keyof PingResponse, unknown>>;
  if (reply.type !== microResponseTypes[verb]) return undefined;
  if (typeof reply.name !== "string" || typeof reply.id !== "string") return undefined;
  return body as MicroResponses[V];
}
