/**
 * How well a file node keeps up, from its publish acknowledgements: overload
 * shows up only as growing ack latency. Refuses new streams past
 * `overloadAckMs`, warns on slow acks, and every 10 s with streams logs one
 * stats line with publish acks, event loop lag and how many listeners have
 * less than one chunk in hand or on the way (about to run dry).
 */
import type { Actor } from "../runtime/actor.js";
import type { ListenerStream } from "./listener-stream.js";
import type { PublishScheduler } from "./scheduler.js";

/** Ack latency above which the node refuses new streams (it is falling behind). */
const overloadAckMs = 500;
const statsEveryMs = 10_000;

export class PublishWatch {
  private ackEwmaMs = 0;
  private slowSince = 0;
  /** Acks seen and the worst one since the last stats line. */
  private acks = 0;
  private ackMaxMs = 0;
  private loopLagMaxMs = 0;

  constructor(
    private readonly actor: Actor,
    private readonly streams: ReadonlyMap<string, ListenerStream>,
    private readonly scheduler: PublishScheduler,
  ) {}

  overloaded(): boolean {
    return this.ackEwmaMs > overloadAckMs;
  }

  sawAck(ms: number): void {
    this.acks++;
    this.ackMaxMs = Math.max(this.ackMaxMs, ms);
    this.ackEwmaMs = this.ackEwmaMs * 0.9 + ms * 0.1;
    if (ms > 250 && Date.now() - this.slowSince > 10_000) {
      this.slowSince = Date.now();
      this.actor.log.warn("slow chunk publishing", {
        ackMs: Math.round(ms),
        averageMs: Math.round(this.ackEwmaMs),
        streams: this.streams.size,
      });
    }
  }

  start(): void {
    let last = process.hrtime.bigint();
    const lagTimer = setInterval(() => {
      const now = process.hrtime.bigint();
      this.loopLagMaxMs = Math.max(this.loopLagMaxMs, Number(now - last) / 1e6 - 100);
      last = now;
    }, 100);
    const statsTimer = setInterval(() => this.logStats(), statsEveryMs);
    this.actor.onStop(() => {
      clearInterval(lagTimer);
      clearInterval(statsTimer);
    });
  }

  private logStats(): void {
    if (this.streams.size === 0 && this.acks === 0) return;
    let starving = 0;
    for (const s of this.streams.values()) {
      if (!s.paused && !s.eosSent && s.lead() < s.chunkFrames) starving++;
    }
    this.actor.log.info("streaming stats", {
      streams: this.streams.size,
      chunksPerSecond: Math.round(this.acks / (statsEveryMs / 1000)),
      ackAvgMs: Math.round(this.ackEwmaMs * 10) / 10,
      ackMaxMs: Math.round(this.ackMaxMs),
      loopLagMaxMs: Math.round(this.loopLagMaxMs),
      starving,
      inflight: this.scheduler.inflight,
    });
    this.acks = 0;
    this.ackMaxMs = 0;
    this.loopLagMaxMs = 0;
  }
}
