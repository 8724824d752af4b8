/** The player's listeners (the screen, the commands, a P2P host) and what it tells them. */
import type { PlayerEvent } from "./types.js";

export class PlayerEvents {
  private readonly listeners = new Set<(event: PlayerEvent) => void>();

  on(listener: (event: PlayerEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: PlayerEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // one listener's failure must not stop the others
      }
    }
  }

  /** Something worth a redraw. */
  changed(): void {
    this.emit({ kind: "changed" });
  }

  /** A line for the user: what happened, or what went wrong. */
  say(message: string, error = false): void {
    this.emit({ kind: "message", message, error });
  }
}
