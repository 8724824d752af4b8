/**
 * One publish queue per file node. Streams that may publish (window open,
 * not paused) wait here; the one whose listener is closest to running dry
 * (the smallest lead of published over played audio) publishes first, with
 * at most `maxInflight` publishes awaiting their JetStream ack at once and
 * one per stream (so each stream's chunks stay in order). Under load every
 * listener's next chunk goes out before anyone's buffer is topped up, and
 * new listeners' first chunks jump the queue.
 */
export interface Publisher {
  /** May publish now. */
  wants(): boolean;
  /** Published-but-not-played audio, in frames relative to a chunk: smaller is more urgent. */
  lead(): number;
  /** Publish one chunk (or marker). Never rejects. */
  step(): Promise<void>;
}

export class PublishScheduler {
  private readonly waiting = new Set<Publisher>();
  private readonly busy = new Set<Publisher>();

  constructor(private readonly maxInflight = 64) {}

  get inflight(): number {
    return this.busy.size;
  }

  wake(p: Publisher): void {
    if (!this.busy.has(p) && p.wants()) this.waiting.add(p);
    this.drain();
  }

  forget(p: Publisher): void {
    this.waiting.delete(p);
  }

  private drain(): void {
    while (this.busy.size < this.maxInflight && this.waiting.size > 0) {
      const next = this.mostUrgent();
      this.waiting.delete(next);
      if (!next.wants()) continue;
      this.busy.add(next);
      void next.step().finally(() => {
        this.busy.delete(next);
        this.wake(next);
      });
    }
  }

  private mostUrgent(): Publisher {
    let best: Publisher | undefined;
    let bestLead = Infinity;
    for (const p of this.waiting) {
      const lead = p.lead();
      if (lead < bestLead) {
        best = p;
        bestLead = lead;
      }
    }
    return best as Publisher;
  }
}
