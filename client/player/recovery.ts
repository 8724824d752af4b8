/**
 * Getting the song's stream back after a broker restart, a lost session or
 * a file node that stopped sending: open the song again from the first byte
 * not yet received — with a new session and another node when needed — and
 * keep the buffer, so playback carries on where it was. It tries until it
 * works or the user moves on, or until the player's give-up time has passed.
 */
import { ChorusError } from "../../wire/errors.js";
import { bytesPerSecond, frameBytes, startSeconds } from "../audio/format.js";
import { Deadline, retry } from "../retry.js";
import { clock } from "../song-time.js";
import type { BrokerLink } from "./broker-link.js";
import type { PlayerEvents } from "./events.js";
import { isSessionError, type SessionKeeper } from "./session.js";
import type { CurrentSong } from "./song.js";

/** What recovery reads of the player. */
export interface RecoveringPlayer {
  closed(): boolean;
  /** Bumped by every play, stop and close: a recovery of an older one gives up. */
  generation(): number;
  current(): CurrentSong | undefined;
  /** Join the P2P host the current song follows again, at its point; false when it follows none. */
  rejoinHost(deadline: Deadline): Promise<boolean>;
}

/** How long a joiner tries its host again after a broker restart before a file node (the host registers again meanwhile). */
const rejoinMs = 6000;

/** Why a recovery starts when the broker went away: the source is kept at first. */
const brokerWhys: ReadonlySet<string> = new Set(["broker reconnected", "broker lost"]);

/** How long after the broker is back every node has surely subscribed again (they reconnect every 250 ms). */
const settleMs = 3000;

export class Recovery {
  active = false;

  constructor(
    private readonly player: RecoveringPlayer,
    private readonly session: SessionKeeper,
    private readonly events: PlayerEvents,
    /** The broker connection: no try is made while it is down (its requests would hang). */
    private readonly link: BrokerLink,
    /** Fail the song when its stream cannot be got back for this long (default: never). */
    private readonly giveUpMs?: number,
  ) {}

  async recover(why: string): Promise<void> {
    if (this.active || this.player.closed()) return;
    this.active = true;
    const generation = this.player.generation();
    const c = this.player.current();
    this.events.changed();
    // One deadline over all tries: each request waits at most what is left of it.
    const giveUp = this.giveUpMs;
    const deadline = giveUp === undefined || !c ? Deadline.never() : new Deadline(giveUp);
    const movedOn = (): boolean =>
      this.player.closed() || generation !== this.player.generation() || Boolean(c?.failed);
    // A host we followed went quiet because the broker did: join it again, not a file node.
    const brokerTrouble = !this.link.up || this.link.sinceBackMs() < settleMs;
    if (c && !c.stopped && brokerTrouble && (await this.rejoin(deadline, movedOn))) {
      this.active = false;
      this.events.changed();
      return;
    }
    let attempt = 0;
    let lastError: unknown;
    // After a broker restart the source is kept while its node may not have subscribed again.
    const settling = (): boolean => this.link.sinceBackMs() < settleMs;
    const keepSource = (): boolean =>
      brokerWhys.has(why) && (attempt === 1 || (isUnavailable(lastError) && settling()));
    try {
      await retry(
        async () => {
          attempt++;
          await this.link.whenUp(deadline.left, movedOn);
          if (!keepSource()) await this.session.dropSource();
          if (this.session.stale) await this.session.resetSession();
          if (!c || c.stopped) {
            // Nothing to resume: a fresh session is all that is needed.
            await this.session.ensureSource(deadline);
            return;
          }
          // Only the session is lost, not the stream: log in again and hand it the new one.
          if (why === "session ended" && attempt === 1 && (await this.rebind(c, deadline))) {
            this.events.say("logged in again; the stream plays on");
            return;
          }
          await this.resume(c, generation, deadline);
          this.events.say(`carrying on from ${clock(c.position)}`);
        },
        {
          deadline,
          retryable: (err) => !(c && isNotFound(err)),
          beforeRetry: async (err, tries) => {
            lastError = err;
            // Just after a broker restart a node that cannot reach the session's auth node yet
            // calls the session unknown: its own beats say whether it really is gone.
            const unconfirmed = settling() && !this.session.stale;
            if (isSessionError(err) && !unconfirmed) await this.session.resetSession();
            if (tries === 1 || tries % 10 === 0) this.events.say(`reconnecting (${why})…`, true);
          },
          cancelled: movedOn,
          firstWaitMs: 100,
          maxWaitMs: 2000,
        },
      );
    } catch (err) {
      if (!c || movedOn()) return;
      if (isNotFound(err)) c.fail(`cannot carry on: ${(err as Error).message}`);
      else if (!c.stopped) {
        c.fail(`lost the stream (${why}) and could not get it back in ${(giveUp ?? 0) / 1000} s`);
      }
    } finally {
      this.active = false;
      this.events.changed();
    }
  }

  /** Join the followed host again while the nodes come back after a broker restart. */
  private async rejoin(deadline: Deadline, movedOn: () => boolean): Promise<boolean> {
    await this.link.whenUp(deadline.left, movedOn);
    const until = performance.now() + rejoinMs;
    for (let wait = 100; !movedOn() && performance.now() < until; wait *= 2) {
      try {
        return await this.player.rejoinHost(new Deadline(Math.min(deadline.left, rejoinMs)));
      } catch {
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
    return false;
  }

  /**
   * Log in again and move the song's stream to the new session (its node
   * keeps a stream whose auth node vanished for a while). False when the
   * stream cannot be kept (the node ended it, or is gone): it is opened again.
   */
  private async rebind(c: CurrentSong, deadline: Deadline): Promise<boolean> {
    const stream = c.stream;
    if (!stream?.rebind) return false;
    const { session } = await this.session.context(deadline);
    try {
      await stream.rebind(session);
    } catch {
      return false;
    }
    return c.stream === stream;
  }

  /** Open the song again where the buffer's received bytes end; the buffer stays. */
  private async resume(c: CurrentSong, generation: number, deadline: Deadline): Promise<void> {
    void c
      .detach()
      ?.stop()
      .catch(() => undefined);
    const resumeByte = c.buffer.receivedOffset;
    const totalBytes = Math.round(c.song.duration * bytesPerSecond(c.format));
    if (resumeByte >= totalBytes - frameBytes(c.format)) {
      c.buffer.end();
      return;
    }
    const source = await this.session.ensureSource(deadline);
    // The same level as what is buffered: its bytes are of that level's format.
    const from = startSeconds(c.format, resumeByte);
    const opened = await source.open(c.song.id, from, deadline, c.level ?? "lossless");
    if (generation !== this.player.generation() || c.stopped || c.failed) {
      void opened.stop().catch(() => undefined);
      return;
    }
    c.attach(opened, source.label);
    if (c.paused) await opened.pause();
  }
}

function isUnavailable(err: unknown): boolean {
  return err instanceof ChorusError && err.code === "UNAVAILABLE";
}

function isNotFound(err: unknown): boolean {
  return err instanceof ChorusError && err.code === "NOT_FOUND";
}
