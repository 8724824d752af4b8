/**
 * Streams a file node ended on its own (a removed file, a dead session, the
 * node stopping, an error), kept a while after. The end marker that tells
 * the listener why travels through JetStream; the listener's next request
 * (a position report, a sync) may overtake it, and is answered with the
 * marker's reason rather than "no such stream". Pure: `now` is injected.
 */
export class RecentlyEnded<T> {
  /** Oldest first (a Map keeps insertion order). */
  private readonly kept = new Map<string, { value: T; at: number }>();

  constructor(
    /** How long an ended stream is remembered. */
    private readonly keepMs: number,
    /** At most this many are remembered; the oldest go first. */
    private readonly max: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.kept.size;
  }

  add(id: string, value: T): void {
    this.prune();
    this.kept.delete(id);
    this.kept.set(id, { value, at: this.now() });
    for (const oldest of this.kept.keys()) {
      if (this.kept.size <= this.max) break;
      this.kept.delete(oldest);
    }
  }

  get(id: string): T | undefined {
    this.prune();
    return this.kept.get(id)?.value;
  }

  private prune(): void {
    const cutoff = this.now() - this.keepMs;
    for (const [id, { at }] of this.kept) {
      if (at > cutoff) break;
      this.kept.delete(id);
    }
  }
}
