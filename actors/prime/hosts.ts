/**
 * The prime's side of P2P (protocol: hosts-protocol.ts): it creates the relay
 * stream (listeners may not), binds host ids to their signing keys for
 * logged-in users, keeps the list of live hosts from their signed beats, and
 * opens joiners' relay consumers after checking their sessions — so only a
 * logged-in user can join, and a listener cannot pose as another host.
 */
import {
  DeliverPolicy,
  DiscardPolicy,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { KeyObject } from "node:crypto";
import { randomBytes } from "node:crypto";
import type { Actor } from "../runtime/actor.js";
import { ChorusError } from "../../wire/errors.js";
import { at } from "../../wire/contract.js";
import type { Session } from "../../wire/session.js";
import { ensureStream, pushConsumer, startSeqSince } from "../runtime/streams.js";
import { checkDeliver, verifySession, type VerifiedSession } from "../runtime/verify-session.js";
import { subjects } from "../../wire/subjects.js";
import {
  decodeFrame,
  defaultBacklogMs,
  primeHost,
  primeHosts,
  primeJoin,
  publicKeyOf,
  readPresence,
  relayFramesPerHost,
  relayMaxAgeMs,
  relayStreamName,
  type HostPresence,
  type HostRegister,
  type HostView,
  type JoinReply,
  type JoinRequest,
} from "../../wire/p2p.js";
import { afterPendingInput } from "../runtime/sweep.js";

export const relayStreamConfig: Partial<StreamConfig> & { name: string } = {
  name: relayStreamName,
  subjects: [subjects.relayAll],
  storage: StorageType.Memory,
  retention: RetentionPolicy.Limits,
  // A slow joiner loses its oldest frames (and catches up); the host is never blocked.
  discard: DiscardPolicy.Old,
  max_msgs_per_subject: relayFramesPerHost,
  max_age: nanos(relayMaxAgeMs),
  max_bytes: 256 * 1024 * 1024,
  max_msg_size: 512 * 1024,
  duplicate_window: nanos(1000),
  num_replicas: 1,
};

/** A binding outlives its host's beats this long, so nobody else can take the id. */
const bindingTtlMs = 10 * 60_000;

interface Binding {
  key: string;
  keyObject: KeyObject;
  user: string;
  seenAt: number;
}

interface LiveHost {
  presence: HostPresence;
  /** Who plays: the user of the session that registered the host, never what its beats say. */
  user: string;
  seenAt: number;
}

export class HostTable {
  private readonly bindings = new Map<string, Binding>();
  private readonly live = new Map<string, LiveHost>();
  private readonly listeners = new Map<string, number>();
  private jsm!: JetStreamManager;
  private counting = false;
  private streamReady = false;
  private stopped = false;
  private stopNow?: () => void;

  constructor(private readonly actor: Actor) {}

  async start(): Promise<void> {
    const { actor } = this;
    this.jsm = await jetstreamManager(actor.nc);
    if (this.stopped) return;
    // P2P must not keep the prime from starting: without the stream, retry each beat.
    await this.ensureStream().catch((err: unknown) =>
      actor.log.warn("cannot create the relay stream yet", { error: String(err) }),
    );
    if (this.stopped) return;
    const sub = actor.nc.subscribe(subjects.hostPresenceAll, {
      callback: (err, msg) => {
        if (err) return;
        try {
          this.seen(msg.subject, msg.data);
        } catch (e) {
          actor.log.debug("ignored host beat", { subject: msg.subject, error: String(e) });
        }
      },
    });
    const timer = setInterval(() => {
      if (!this.streamReady) void this.ensureStream().catch(() => undefined);
      afterPendingInput(() => this.sweep());
      void this.countListeners();
    }, actor.config.heartbeatMs);
    const served = [
      actor.serve(at(primeHost), (req) => this.register(req)),
      actor.serve(at(primeHosts), () => this.list()),
      actor.serve(at(primeJoin), (req) => this.join(req)),
    ];
    this.stopNow = () => {
      clearInterval(timer);
      sub.unsubscribe();
      for (const s of served) s.unsubscribe();
    };
    // A broker restart empties a memory stream's definition too.
    void (async () => {
      for await (const s of actor.nc.status()) {
        if (this.stopped) return;
        if (s.type === "reconnect") await this.ensureStream().catch(() => undefined);
      }
    })();
  }

  /**
   * Stop serving (the prime role given up, or the node stopping). Hosts bind
   * again at the next holder by re-registering, which they do every few beats.
   */
  stop(): void {
    this.stopped = true;
    this.stopNow?.();
  }

  /** Create the relay stream, or bring an existing one to our limits. */
  async ensureStream(): Promise<void> {
    await ensureStream(this.jsm, relayStreamConfig);
    this.streamReady = true;
  }

  /** The user and client of a live session; UNAUTHORIZED otherwise (listeners cannot ask auth nodes). */
  private verify(session: Session): Promise<VerifiedSession> {
    return verifySession(this.actor.nc, session, Math.max(1000, this.actor.config.heartbeatMs));
  }

  /** Bind a host id to its key (first come; the same key may renew). Answers its listeners. */
  private async register(req: HostRegister): Promise<{ listeners: number }> {
    const { user, client } = await this.verify(req.session);
    // Only that identity may publish on the host's subjects (wire/permissions.ts).
    if (req.id !== client) {
      throw new ChorusError("FORBIDDEN", "a host id is the client id of its session's connection");
    }
    const bound = this.bindings.get(req.id);
    if (bound && bound.key !== req.key) {
      throw new ChorusError("FORBIDDEN", "that host id belongs to another host");
    }
    let keyObject: KeyObject;
    try {
      keyObject = bound?.keyObject ?? publicKeyOf(req.key);
    } catch {
      throw new ChorusError("BAD_REQUEST", "key: not an Ed25519 public key");
    }
    this.bindings.set(req.id, { key: req.key, keyObject, user, seenAt: Date.now() });
    return { listeners: this.listeners.get(req.id) ?? 0 };
  }

  private seen(subject: string, data: Uint8Array): void {
    const id = subject.slice(subject.lastIndexOf(".") + 1);
    const binding = this.bindings.get(id);
    if (!binding) return; // not registered (yet): a beat nobody can vouch for
    const presence = readPresence(data, binding.keyObject);
    if (!presence || presence.id !== id) return;
    binding.seenAt = Date.now();
    if (presence.status === "stopping") {
      this.live.delete(id);
      return;
    }
    this.live.set(id, { presence, user: binding.user, seenAt: Date.now() });
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, host] of this.live) {
      if (now - host.seenAt > this.actor.config.missedBeats * host.presence.intervalMs) {
        this.live.delete(id);
      }
    }
    for (const [id, binding] of this.bindings) {
      if (now - binding.seenAt > bindingTtlMs && !this.live.has(id)) this.bindings.delete(id);
    }
  }

  /** Joiners per host: the relay consumers that exist now. */
  private async countListeners(): Promise<void> {
    if (this.counting) return;
    this.counting = true;
    try {
      const counts = new Map<string, number>();
      const prefix = subjects.relay("x").slice(0, -1);
      for await (const info of this.jsm.consumers.list(relayStreamName)) {
        const filter = info.config.filter_subject ?? "";
        if (!filter.startsWith(prefix)) continue;
        const id = filter.slice(prefix.length);
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      this.listeners.clear();
      for (const [id, n] of counts) this.listeners.set(id, n);
    } catch (err) {
      this.actor.log.debug("cannot count relay consumers", { error: String(err) });
    } finally {
      this.counting = false;
    }
  }

  private view(host: LiveHost): HostView {
    const p = host.presence;
    return {
      id: p.id,
      user: host.user,
      song: p.song?.title,
      songId: p.song?.id,
      position: p.position,
      duration: p.song?.duration,
      state: p.state,
      paused: p.state === "paused",
      listeners: this.listeners.get(p.id) ?? p.listeners,
      depth: p.depth,
      lastSeenMs: Date.now() - host.seenAt,
    };
  }

  /** Hosts playing now (idle ones are not listed), oldest id order for stable output. */
  list(): HostView[] {
    return [...this.live.values()]
      .filter((h) => h.presence.state !== "idle")
      .map((h) => this.view(h))
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  private resolve(wanted: string): LiveHost {
    const byId = this.live.get(wanted);
    if (byId) return byId;
    const lower = wanted.toLowerCase();
    const named = [...this.live.values()].filter((h) => h.user.toLowerCase() === lower);
    if (named.length > 1) {
      throw new ChorusError("BAD_REQUEST", `${named.length} hosts are "${wanted}": give a host id`);
    }
    const found = named[0];
    if (!found) {
      throw new ChorusError("NOT_FOUND", `no host "${wanted}" is playing now (chorus hosts)`);
    }
    return found;
  }

  /**
   * Open a relay consumer from a little before the host's newest frame to the
   * joiner's inbox, so it starts where the host is with `backlogMs` buffered.
   */
  private async join(req: JoinRequest): Promise<JoinReply> {
    checkDeliver(await this.verify(req.session), req.deliver);
    const host = this.resolve(req.host);
    const id = host.presence.id;
    const binding = this.bindings.get(id);
    if (!binding) throw new ChorusError("NOT_FOUND", `host ${id} is not registered`);
    const backlogMs = req.backlogMs ?? defaultBacklogMs;
    let lastStored: { seq: number; time: number } | undefined;
    let last: JoinReply["last"];
    let lastEnd: number | undefined;
    try {
      const msg = await this.jsm.streams.getMessage(relayStreamName, {
        last_by_subj: subjects.relay(id),
      });
      if (msg) {
        const frame = decodeFrame(msg.data, binding.keyObject);
        if (frame.ok) {
          last = frame.header;
          lastEnd = frame.header.byte + frame.pcm.length;
        }
        lastStored = { seq: msg.seq, time: msg.time.getTime() };
      }
    } catch {
      // nothing relayed yet: start with the next frame
    }
    // The newest frame is the truth (a beat may be a moment old).
    if (!last || last.state === "stopped" || last.state === "ended") {
      throw new ChorusError(
        "NOT_FOUND",
        last ? `host ${id} has stopped playing` : `host ${id} has not played anything yet`,
      );
    }
    const consumer = randomBytes(9).toString("base64url");
    await this.jsm.consumers.add(
      relayStreamName,
      pushConsumer({
        name: consumer,
        deliver_subject: req.deliver,
        filter_subject: subjects.relay(id),
        ...(lastStored === undefined
          ? { deliver_policy: DeliverPolicy.New }
          : {
              deliver_policy: DeliverPolicy.StartSequence,
              opt_start_seq: await startSeqSince(
                this.jsm,
                relayStreamName,
                subjects.relay(id),
                lastStored.seq,
                // One more write's worth, so the backlog is whole.
                lastStored.time - backlogMs - 50,
              ),
            }),
        inactiveMs: 3000,
      }),
    );
    this.listeners.set(id, (this.listeners.get(id) ?? 0) + 1);
    return {
      consumer,
      host: this.view(host),
      key: binding.key,
      intervalMs: host.presence.intervalMs,
      ...(last ? { last, lastEnd } : {}),
    };
  }
}
