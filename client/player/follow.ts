/**
 * Following a P2P host: joining it gives one more stream behind the Source
 * interface (client/p2p/join.ts). The player plays it like any other; the
 * host's pauses, jumps and song changes come through the stream's listener.
 */
import { ChorusError } from "../../wire/errors.js";
import { HostSource, joinJitter } from "../p2p/join.js";
import type { Deadline } from "../retry.js";
import type { OpenedStream } from "../source.js";
import type { SessionKeeper } from "./session.js";
import type { JitterSettings } from "./types.js";

export class Following {
  /** A joined stream starts (and restarts) with the host's backlog. */
  readonly jitter: JitterSettings = joinJitter;
  /** The host joined last: its label names the source of the songs it changes to. */
  private source?: HostSource;

  constructor(
    private readonly session: SessionKeeper,
    /** Our own host id: joining ourselves would play our own echo. */
    private readonly ownHostId: () => string | undefined,
  ) {}

  get label(): string | undefined {
    return this.source?.label;
  }

  /** The host joined last (its id), while the player still follows it. */
  get hostId(): string | undefined {
    return this.source?.id;
  }

  /** Join `host` (its id, or its user's name) at the point it is at. */
  async join(host: string, deadline: Deadline): Promise<{ stream: OpenedStream; label: string }> {
    if (host === this.ownHostId()) throw new ChorusError("BAD_REQUEST", "that host is you");
    const source = new HostSource(await this.session.context(deadline), host);
    const stream = await source.open("", 0, deadline);
    this.source = source;
    return { stream, label: source.label };
  }
}
